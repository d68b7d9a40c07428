"""The portal's French and English catalogues are complete, compiled and consistent; language
negotiation; every S9 credential rule has a translated message."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from portal.auth.services import _RULES, rule_message
from portal.i18n import CATALOGUES, Msg, format_typed_number, negotiate
from store import credentials

ROOT = Path(__file__).resolve().parents[2]


def source_ids() -> set[str]:
    with (ROOT / "portal" / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {**DEFAULT_KEYWORDS, "Msg": None, "N_": None}
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


@pytest.fixture(scope="module")
def ids() -> set[str]:
    return source_ids()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_catalogue_translates_every_text_of_the_sources(ids: set[str], lang: str) -> None:
    assert len(ids) > 300
    with (CATALOGUES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    # English is the language of the message ids: an empty English text shows the id itself.
    missing = sorted(
        i for i in ids if catalog.get(i) is None or (lang != "en" and not catalog.get(i).string)
    )
    assert missing == [], f"run make i18n and translate: {missing[:5]}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []
    # Placeholders match (python-format checks of Babel).
    problems = [(m.id, errs) for m, errs in catalog.check() if errs]
    assert problems == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_compiled_catalogue_matches_the_po(lang: str) -> None:
    folder = CATALOGUES / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    with (folder / "messages.mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    plural = gettext.c2py(catalog.plural_expr)
    stale = []
    for m in catalog:
        if not m.id:
            continue
        if isinstance(m.id, tuple):  # plural forms: one, and many
            for n in (1, 2):
                want = m.string[plural(n)] or m.id[0 if n == 1 else 1]
                if compiled.ngettext(m.id[0], m.id[1], n) != want:
                    stale.append(m.id)
        elif compiled.gettext(m.id) != (m.string or m.id):
            stale.append(m.id)
    assert stale == [], "run make i18n to compile the catalogues"


def test_french_uses_the_guide_labels() -> None:
    assert Msg("Sign out").render("fr") == "Se déconnecter"
    assert Msg("Do not disturb").render("fr") == "Ne pas déranger"
    assert Msg("Change call-services PIN").render("fr") == "Changer le NIP des services d'appels"
    assert Msg("Notification override").render("fr") == "Annulation des notifications"
    assert Msg("Enter %(min)s to %(max)s seconds.", min=5, max=120).render("fr") == (
        "Entrez de 5 à 120 secondes."
    )
    assert Msg("Enter %(min)s to %(max)s seconds.", min=5, max=120).render("en") == (
        "Enter 5 to 120 seconds."
    )


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "fr"),
        (None, "en-CA,en;q=0.9,fr;q=0.8", "en"),
        (None, "de-DE,de;q=0.9,en;q=0.7,fr;q=0.8", "fr"),
        (None, "fr-CA;q=0.5, en;q=0.5", "fr"),
        (None, "es, pt", "fr"),
        (None, "en;q=0, fr;q=0.1", "fr"),
        ("en", "fr-CA", "en"),
        ("xx", "en", "en"),
    ],
)
def test_negotiation(cookie: str | None, header: str | None, expected: str) -> None:
    assert negotiate(cookie, header, "fr") == expected


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (credentials.validate_password, "court"),
        (credentials.validate_password, "x" * 200),
        (credentials.validate_password, "6135550100"),
        (credentials.validate_pin, "12a4"),
        (credentials.validate_pin, "12"),
        (credentials.validate_pin, "1111"),
        (credentials.validate_pin, "4567"),
        (credentials.validate_pin, "0100"),
    ],
)
def test_every_credential_rule_has_a_translated_message(check: object, value: str) -> None:
    with pytest.raises(ValueError) as info:
        check(value, "6135550100")  # type: ignore[operator]
    msg = rule_message(info.value)
    assert msg in _RULES.values(), str(info.value)
    assert msg.render("fr") != msg.render("en")


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("613-555-0142", "(613) 555-0142"),
        ("+1 613 555 0142", "(613) 555-0142"),
        ("6135550142", "(613) 555-0142"),
        ("613 555 0142 x204", "613 555 0142 x204"),
        ("4255", "4255"),
        ("", ""),
    ],
)
def test_typed_numbers_are_shown_formatted_when_plain(typed: str, shown: str) -> None:
    assert format_typed_number(typed) == shown


def test_french_texts_put_a_narrow_no_break_space_before_double_punctuation() -> None:
    """French typography: "programme : toujours" is written with U+202F before : ; ! ?, never
    a plain space or none (times like 13:42 and addresses are not sentences)."""
    import re

    from babel.messages.pofile import read_po

    from portal.i18n import CATALOGUES

    with (CATALOGUES / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh, locale="fr")
    wrong = re.compile(r"(?:[ \u00a0]|(?<=[^\s\u202f\u00a0\d/]))[:;!?](?=\s|$|\))")
    bad = []
    for m in catalogue:
        if not m.id:
            continue
        for text in [m.string] if isinstance(m.string, str) else m.string:
            if wrong.search(text):
                bad.append(text)
    assert bad == []
    french = {m.id: m.string for m in catalogue if isinstance(m.id, str)}
    assert french["schedule:"] == "programme\u202f:"
    assert french["Sign out"] == "Se déconnecter"
