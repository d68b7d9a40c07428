"""Seam: inbox access saved in the portal's message settings (skip PIN, quick login, autoplay,
envelope playback, language by phone) is what the phone's login and retrieval dialog use
(SPEC S2 mailbox, S5 retrieval, S8 message settings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr.retrieval import FaxInfo
from store.models import Message
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
    assert box.new_faxes == ()
    # Fax autoplay: the newest new faxes, oldest first, are what the phone announces.
    received = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    with both.store.transaction() as s:
        for i, (caller, pages, heard) in enumerate(
            [("6135550188", 3, False), (None, 1, False), ("4165550123", 2, True)]
        ):
            s.add(
                Message(
                    line_number=A_NUMBER, kind="fax", caller_number=caller, pages=pages,
                    heard=heard, received_at=received + timedelta(minutes=i),
                    file_path=f"messages/{A_NUMBER}/f{i}.tif",
                )
            )  # fmt: skip
    assert both.vm.open(A_NUMBER).box.new_faxes == (
        FaxInfo("6135550188", received, 3),
        FaxInfo(None, received + timedelta(minutes=1), 1),
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
