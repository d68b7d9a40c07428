"""The help's "Voicemail by phone" chapter, in French and English, from the IVR's own menus."""

from __future__ import annotations

import html
import re

from ivr import guide
from tests.support.portal import PortalEnv, accounts_db, env, sign_in_page

__all__ = ["accounts_db", "env"]


def test_help_has_the_phone_menus_in_both_languages(env: PortalEnv) -> None:
    c = env.client()
    sign_in_page(c)
    for lang, title in (("fr", "La messagerie vocale par téléphone"), ("en", "Voicemail by phone")):
        c.cookies.set("relais_lang", lang)
        page = html.unescape(c.get("/help").text)
        chapter = page.split('data-testid="help-phone"')[1].split("</section>")[0]
        assert title in page and guide.intro(lang, "*98") in chapter
        for menu in guide.menus(lang):
            rows = re.findall(
                r"<kbd>(.+?)</kbd></td><td>(.+?)</td>",
                chapter.split(f'data-menu="{menu.name}"')[1].split("</table>")[0],
            )
            assert tuple(rows) == menu.keys


def test_help_has_a_chapter_for_every_page_of_the_guide(env: PortalEnv) -> None:
    c = env.client()
    sign_in_page(c)
    chapters = {
        "fr": {
            "h-inbox": "Messages et télécopies",
            "h-calllists": "Appels manqués et reçus",
            "h-deleted": "Éléments supprimés",
            "h-contacts": "Contacts, importation et exportation",
        },
        "en": {
            "h-inbox": "Messages and faxes",
            "h-calllists": "Missed and received calls",
            "h-deleted": "Deleted items",
            "h-contacts": "Contacts, import and export",
        },
    }
    for lang, titles in chapters.items():
        c.cookies.set("relais_lang", lang)
        page = html.unescape(c.get("/help").text)
        for anchor, title in titles.items():
            assert f'href="#{anchor}">{title}</a>' in page
            section = page.split(f'id="{anchor}"')[1].split("</section>")[0]
            assert f'<h2 class="card__title">{title}</h2>' in section
    # The import rule is the one the import follows.
    c.cookies.set("relais_lang", "fr")
    contacts = html.unescape(c.get("/help").text).split('id="h-contacts"')[1]
    assert "une cellule qui ne contient qu'un trait d'union (-) l'efface" in contacts
