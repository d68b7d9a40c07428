"""Voicemail by phone in words (ivr.guide): written out from the IVR's own menu tables, and the
README's "By phone" section is exactly that text (regenerate it when a menu changes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr import guide
from ivr.retrieval import MENUS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_holds_the_generated_by_phone_section() -> None:
    text = README.read_text()
    assert guide.START in text and guide.END in text
    section = text.split(guide.START + "\n", 1)[1].split(guide.END, 1)[0]
    assert section == guide.markdown("en"), (
        "README.md's By phone section is out of date: replace it with ivr.guide.markdown('en')"
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_key_of_every_menu_is_written_out(lang: str) -> None:
    written = {m.name: m.keys for m in guide.menus(lang)}
    assert set(written) == set(MENUS)
    for name, menu in MENUS.items():
        assert [k for k, _ in written[name]] == [k for _, k in menu]
        assert all(what and not what.endswith(",") for _, what in written[name])
    message = dict(written["message"])
    if lang == "en":
        assert (message["2"], message["3"], message["7"]) == (
            "To save it",
            "To delete it",
            "To mark it as new",
        )
    else:
        assert message["4"] == "Pour y répondre"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="^unknown language 'de'$"):
        guide.menus("de")
