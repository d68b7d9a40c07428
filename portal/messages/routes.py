"""The Messages page of the navigation: the mailbox at a glance (counts by kind and folder)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.deps import CurrentLine, Lang, PageAuth, PortalDep
from portal.messages.services import summary
from portal.pages import frame, render

api = APIRouter(tags=["messages"])
pages = APIRouter(include_in_schema=False)


@pages.get("/messages")
def messages_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="messages")
    ctx["summary"] = summary(portal.store, line.number)
    return render(portal, lang, "messages.html", ctx)
