"""The portal's context and its FastAPI dependencies (Annotated aliases, CONVENTIONS 12).

Rules of this file:
- `Portal` holds what every request needs (settings, store, files, clock, guards, templates);
  the app factory builds it once, tests pass their own store and clock.
- API requests authenticate with `Authorization: Bearer <token>` or the session cookie; with
  the cookie, every unsafe method needs the X-CSRF-Token header (bearer calls do not).
- Pages authenticate with the cookie only; their forms carry the session's CSRF token.
- A line in a path or a form must belong to the signed-in account; otherwise it "does not
  exist" (404), whether it exists elsewhere or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from config.settings import Settings
from portal.auth.services import Auth, LineRef, SessionPolicy, resolve
from portal.errors import Refused
from portal.i18n import LANG_COOKIE, LANGUAGES, Msg, negotiate
from portal.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    LINE_COOKIE,
    SESSION_COOKIE,
    PreSessionCsrf,
    SignInGuard,
    same,
)
from portal.templating import Templates
from routing.model import DialPlan
from store.files import FileStore
from store.session import Store

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Portal:
    settings: Settings
    store: Store
    files: FileStore
    clock: Callable[[], datetime]
    guard: SignInGuard
    pre_csrf: PreSessionCsrf
    templates: Templates
    policy: SessionPolicy

    @property
    def dial_plan(self) -> DialPlan:
        d = self.settings.dialplan
        return DialPlan(
            allow_international=d.allow_international,
            extension_digits=tuple(d.extension_digits),
            blocked_area_codes=frozenset(d.blocked_area_codes),
            blocked_exchanges=frozenset(d.blocked_exchanges),
            allow_nanp_abroad=d.allow_nanp_abroad,
        )

    def now(self) -> datetime:
        return self.clock()


def session_policy(settings: Settings) -> SessionPolicy:
    sec = settings.portal_security
    return SessionPolicy(
        lockout_failures=sec.login_lockout_failures,
        lockout=timedelta(minutes=sec.login_lockout_minutes),
        idle=timedelta(minutes=sec.session_idle_minutes),
        lifetime=timedelta(hours=sec.session_max_hours),
    )


def get_portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(get_portal)]


def get_lang(request: Request, portal: PortalDep) -> str:
    """The language the request asks for (cookie, Accept-Language); for the API without one,
    the signed-in account's language; else the installation's."""
    asked = negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"), "")
    if asked:
        return asked
    if request.url.path.startswith("/api/"):
        token = bearer_token(request) or request.cookies.get(SESSION_COOKIE)
        auth = resolve(portal.store, portal.policy, token or "", "bearer", portal.now())
        if auth is not None and auth.language in LANGUAGES:
            return auth.language
    return portal.settings.language


Lang = Annotated[str, Depends(get_lang)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


Client = Annotated[str, Depends(client_address)]


# ------------------------------------------------------------------------------------------------
# API authentication


NOT_SIGNED_IN = Msg("Sign in first.")
CSRF_MISSING = Msg("The security token of the page is missing or out of date. Reload the page.")
LINE_NOT_FOUND = Msg("This line does not exist on your account.")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def optional_api_auth(request: Request, portal: PortalDep) -> Auth | None:
    token = bearer_token(request)
    via = "bearer"
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        via = "cookie"
    if not token:
        return None
    auth = resolve(portal.store, portal.policy, token, via, portal.now())
    unsafe = via == "cookie" and request.method not in SAFE_METHODS
    if auth is not None and unsafe and not same(request.headers.get(CSRF_HEADER), auth.csrf_token):
        raise Refused(403, "csrf-missing", CSRF_MISSING)
    return auth


PASSWORD_CHANGE_REQUIRED = Msg(
    "Your password does not meet the password rule any more: change it before anything else."
)
API_WHILE_PASSWORD_CHANGE = frozenset(
    {("PUT", "/api/v1/account/password"), ("GET", "/api/v1/account"), ("DELETE", "/api/v1/session")}
)
"""What a session whose password must change may still do through the API."""


def api_auth(request: Request, auth: Annotated[Auth | None, Depends(optional_api_auth)]) -> Auth:
    if auth is None:
        raise Refused(401, "not-signed-in", NOT_SIGNED_IN, headers={"WWW-Authenticate": "Bearer"})
    if auth.password_change_required and (
        (request.method, request.url.path) not in API_WHILE_PASSWORD_CHANGE
    ):
        raise Refused(403, "password-change-required", PASSWORD_CHANGE_REQUIRED)
    return auth


ApiAuth = Annotated[Auth, Depends(api_auth)]


def api_line(n: str, auth: ApiAuth) -> LineRef:
    line = auth.line(n)
    if line is None:
        raise Refused(404, "line-not-found", LINE_NOT_FOUND)
    return line


ApiLine = Annotated[LineRef, Depends(api_line)]


# ------------------------------------------------------------------------------------------------
# Pages


class LoginRequired(Exception):
    """A page needs a session: the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PasswordChangeRequired(Exception):
    """A page of a session whose password must change: the app redirects to the change form."""


PAGES_WHILE_PASSWORD_CHANGE = frozenset({"/security/password", "/logout"})


class CsrfRejected(Exception):
    """A page form came without the session's CSRF token (403 page)."""


def optional_page_auth(request: Request, portal: PortalDep) -> Auth | None:
    """The session of the page's cookie (pages never use bearer tokens)."""
    token = request.cookies.get(SESSION_COOKIE)
    return resolve(portal.store, portal.policy, token, "cookie", portal.now()) if token else None


def page_auth(request: Request, auth: Annotated[Auth | None, Depends(optional_page_auth)]) -> Auth:
    if auth is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path if request.method == "GET" else "/home")
    if auth.password_change_required and request.url.path not in PAGES_WHILE_PASSWORD_CHANGE:
        raise PasswordChangeRequired()
    return auth


PageAuth = Annotated[Auth, Depends(page_auth)]


def current_line(request: Request, auth: PageAuth) -> LineRef:
    """The line picked in the line switcher (cookie), else the primary line."""
    chosen = request.cookies.get(LINE_COOKIE)
    return (auth.line(chosen) if chosen else None) or auth.primary


CurrentLine = Annotated[LineRef, Depends(current_line)]


async def checked_form(request: Request, auth: PageAuth) -> FormData:
    """The posted form of a signed-in page, after its CSRF token was checked."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not same(token, auth.csrf_token):
        raise CsrfRejected()
    return form


Form = Annotated[FormData, Depends(checked_form)]


def form_line(form: Form, auth: PageAuth) -> LineRef:
    """The line a form was shown for (hidden field), so a switch in another tab changes nothing."""
    number = form.get("line")
    line = auth.line(number) if isinstance(number, str) else None
    if line is None:
        raise Refused(404, "line-not-found", LINE_NOT_FOUND)
    return line


FormLine = Annotated[LineRef, Depends(form_line)]
