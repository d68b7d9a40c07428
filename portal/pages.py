"""What every page shares: the frame (navigation, line switcher, storage warning, footer),
flash messages after a redirect, and safe redirects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy import func, select
from starlette.responses import RedirectResponse, Response

from portal.auth.services import Auth, LineRef
from portal.deps import Portal
from portal.i18n import Msg
from portal.security import FLASH_COOKIE
from store import repository
from store.models import Message

WARNING_RATIO = 0.9

FLASHES: dict[str, Msg] = {
    "saved": Msg("Your changes are saved."),
    "password": Msg("Your password is changed. Your other sessions were signed out."),
    "services-pin": Msg("Your call-services PIN is changed."),
    "voicemail-pin": Msg("Your voicemail PIN is changed."),
    "feedback": Msg("Thank you: your feedback was sent."),
    "signed-out": Msg("You are signed out."),
    "line": Msg("You are now managing another line."),
    "contact-saved": Msg("The contact is saved."),
    "group-saved": Msg("The group is saved."),
    "contacts-deleted": Msg("The selected contacts and groups are deleted."),
    "marked-heard": Msg("The message is marked as heard."),
    "marked-new": Msg("The message is marked as new."),
    "message-deleted": Msg("The message is moved to Deleted."),
    "messages-deleted": Msg("The messages are moved to Deleted."),
    "message-restored": Msg("The message is back in the inbox."),
    "message-purged": Msg("The message is deleted for good."),
    "messages-purged": Msg("Deleted is empty: the space is free again."),
    "forwarded-email": Msg("The message is sent by e-mail."),
    "forward-queued": Msg("The mail server is busy: the e-mail will be sent in a moment."),
    "message-sent": Msg("Your voice message is sent."),
    "fax-queued": Msg("The fax is being sent: each number's result shows below."),
}


@dataclass(frozen=True)
class Usage:
    used_seconds: float
    limit_seconds: int

    @property
    def ratio(self) -> float:
        return self.used_seconds / self.limit_seconds if self.limit_seconds else 1.0

    @property
    def percent(self) -> int:
        return min(100, int(self.ratio * 100 + 0.5))

    @property
    def warning(self) -> bool:
        return self.ratio >= WARNING_RATIO


def usage(portal: Portal, number: str) -> Usage:
    with portal.store.read() as s:
        counts = repository.mailbox_counts(s, number)
    return Usage(used_seconds=counts.used_seconds, limit_seconds=counts.quota_seconds)


@dataclass(frozen=True)
class Unread:
    voice: int
    fax: int

    @property
    def total(self) -> int:
        return self.voice + self.fax


def unread(portal: Portal, numbers: list[str]) -> dict[str, Unread]:
    """New (unheard, unread) voice messages and faxes in the inbox of each of these lines:
    one grouped read of the index ix_message_page."""
    counts = {n: {"voice": 0, "fax": 0} for n in numbers}
    with portal.store.read() as s:
        rows = s.execute(
            select(Message.line_number, Message.kind, func.count())
            .where(
                Message.line_number.in_(numbers),
                Message.folder == "inbox",
                Message.heard.is_(False),
            )
            .group_by(Message.line_number, Message.kind)
        ).all()
    for number, kind, n in rows:
        counts[number][kind] = int(n)
    return {k: Unread(**v) for k, v in counts.items()}


def safe_next(target: str | None, default: str = "/home") -> str:
    """A local path to go back to (never another site)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def redirect(path: str, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, flash, max_age=60, httponly=True, samesite="lax")
    return response


def frame(
    request: Request,
    portal: Portal,
    lang: str,
    auth: Auth | None,
    line: LineRef | None,
    *,
    nav: str = "",
    title: str = "",
    usage_now: Usage | None = None,
) -> dict[str, Any]:
    """The context every page template extends (`usage_now`: the line's usage, when the page
    has read the mailbox's counts already)."""
    flash_code = request.cookies.get(FLASH_COOKIE)
    flash = FLASHES[flash_code].render(lang) if flash_code in FLASHES else None
    path = request.url.path
    ctx: dict[str, Any] = {
        "request": request,
        "auth": auth,
        "line": line,
        "nav": nav,
        "title": title,
        "flash": flash,
        "path": path + (("?" + request.url.query) if request.url.query else ""),
        "csrf": auth.csrf_token if auth else "",
        "usage": usage_now or (usage(portal, line.number) if line else None),
        "unread": unread(portal, [ln.number for ln in auth.lines]) if auth else {},
    }
    return ctx


def render(
    portal: Portal,
    lang: str,
    template: str,
    ctx: dict[str, Any],
    status_code: int = 200,
) -> Response:
    response = portal.templates.response(lang, template, ctx, status_code=status_code)
    if ctx.get("flash"):
        response.delete_cookie(FLASH_COOKIE)
    response.headers["Cache-Control"] = "no-store"
    return response


def page_number(raw: str | None) -> int:
    """The page asked for in ?page=N (1 when absent or not a number)."""
    if raw is None or not raw.isdigit() or len(raw) > 6:
        return 1
    return max(1, int(raw))


def pager(page: int, total: int, size: int) -> dict[str, int]:
    """Where a page stands in its list: page, pages, first and last row shown, total."""
    pages = max(1, -(-total // size))
    page = min(page, pages)
    first = (page - 1) * size
    return {
        "page": page,
        "pages": pages,
        "offset": first,
        "first": min(total, first + 1),
        "last": min(total, first + size),
        "total": total,
    }
