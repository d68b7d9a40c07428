"""The Contacts page of the navigation: the account's contacts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.contacts.services import contact_rows
from portal.deps import CurrentLine, Lang, PageAuth, PortalDep
from portal.pages import frame, render

api = APIRouter(tags=["contacts"])
pages = APIRouter(include_in_schema=False)


@pages.get("/contacts")
def contacts_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="contacts")
    ctx["contacts"], ctx["groups"] = contact_rows(portal.store, auth.account_id)
    return render(portal, lang, "contacts.html", ctx)
