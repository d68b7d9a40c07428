"""Seam: inbox access saved in the portal's message settings (skip PIN, quick login, autoplay,
envelope playback, language by phone) is what the phone's login and retrieval dialog use
(SPEC S2 mailbox, S5 retrieval, S8 message settings)."""

from __future__ import annotations

from tests.support.portal import sign_in_page
from tests.support.seams import A_NUMBER, A_SECOND, Both, both

__all__ = ["both"]

SETTINGS = f"/api/v1/lines/{A_NUMBER}/message-settings"


def test_inbox_access_saved_in_the_portal_is_what_the_phone_uses(both: Both) -> None:
    assert both.vm.login_facts(A_NUMBER) == ("fr", False, False)
    r = both.api.put(
        SETTINGS,
        json={
            "skip_pin": True,
            "quick_login": True,
            "autoplay_voice": True,
            "autoplay_fax": True,
            "envelope_mode": "envelope",
            "language": "en",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["language"] == "en"
    assert both.vm.login_facts(A_NUMBER) == ("en", True, True)
    box = both.vm.open(A_NUMBER).box
    assert (box.lang, box.envelope_mode, box.autoplay_voice, box.autoplay_fax) == (
        "en",
        "envelope",
        True,
        True,
    )
    # Only that line's mailbox changed.
    assert both.vm.login_facts(A_SECOND) == ("fr", False, False)
    # A caller leaving a message hears the mailbox's language too.
    both.deposit()
    r = both.api.put(SETTINGS, json={"language": "fr", "envelope_mode": "message"})
    assert r.status_code == 200, r.text
    box = both.vm.open(A_NUMBER).box
    assert (box.lang, box.envelope_mode) == ("fr", "message")
    assert both.api.put(SETTINGS, json={"language": "de"}).status_code == 422
    assert both.vm.login_facts(A_NUMBER)[0] == "fr"


def test_the_message_settings_page_sets_the_language_by_phone(both: Both) -> None:
    with both.env.client() as web:
        csrf = sign_in_page(web)
        page = web.get("/message-settings").text
        assert 'name="language" value="fr" lang="fr" checked' in page
        r = web.post(
            "/message-settings",
            data={
                "csrf_token": csrf,
                "line": A_NUMBER,
                "envelope_mode": "both",
                "greeting": "system",
                "language": "en",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert 'name="language" value="en" lang="en" checked' in web.get("/message-settings").text
    assert both.vm.login_facts(A_NUMBER) == ("en", False, False)
