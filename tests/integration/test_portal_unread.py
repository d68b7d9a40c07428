"""Unread counts where a subscriber looks first: the Home summary, the badge of the Messages tab
and each mailbox of the line menu, in French and English."""

from __future__ import annotations

import html
import re

from store.models import Message
from tests.support.deposit import deposit
from tests.support.portal import A_NUMBER, A_SECOND, PortalEnv, accounts_db, env, sign_in_page

__all__ = ["accounts_db", "env"]


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_home_summary_and_unread_badges(env: PortalEnv) -> None:
    c = env.client()
    sign_in_page(c)
    empty = c.get("/home").text
    assert "Aucun nouveau message." in _words(empty)
    assert 'data-testid="unread-badge"' not in empty
    for _ in range(3):
        deposit(env.store, env.files, A_NUMBER)
    heard = deposit(env.store, env.files, A_NUMBER)
    with env.store.transaction() as s:
        m = s.get(Message, heard.message_id)
        assert m is not None
        m.heard = True
    deposit(env.store, env.files, A_NUMBER, kind="fax")
    deposit(env.store, env.files, A_SECOND)
    deposit(env.store, env.files, A_SECOND)
    page = c.get("/home").text
    summary = _words(page.split('data-testid="new-summary"')[1].split("</section>")[0])
    assert "3 nouveaux messages · 1 nouvelle télécopie" in summary
    assert "(613) 555-0101\u202f: 2 nouveaux" in html.unescape(
        page.split('data-testid="new-summary"')[1].split("</section>")[0]
    )
    badge = page.split('data-testid="unread-badge"')[1].split("</a>")[0]
    assert '<span aria-hidden="true">4</span>' in badge and "4 nouveaux" in badge
    menu = [_words(x.split("</span>")[0]) for x in page.split('data-testid="line-unread">')[1:]]
    assert menu == ["4 nouveaux", "2 nouveaux"]
    c.cookies.set("relais_lang", "en")
    english = _words(c.get("/messages").text)
    assert "3 new messages" in english and "4 new" in english
