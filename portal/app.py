"""The portal's ASGI application: `create_app(settings)` builds it (FastAPI + Jinja2).

Pages are server-rendered HTML (plain JS/CSS from portal/static, no build step); the JSON API
lives under /api/v1 with its OpenAPI document at /api/v1/openapi.json. Both call the same
service layer, one slice per page group (auth, home, settings, notifications, messages,
contacts).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from config.settings import Settings
from portal.auth import routes as auth_routes
from portal.auth.services import warm_up
from portal.contacts import routes as contacts_routes
from portal.deps import (
    CsrfRejected,
    LoginRequired,
    PasswordChangeRequired,
    Portal,
    get_lang,
    session_policy,
)
from portal.errors import Invalid, Refused
from portal.home import routes as home_routes
from portal.i18n import Msg
from portal.messages import routes as messages_routes
from portal.notifications import routes as notifications_routes
from portal.pages import render
from portal.security import PreSessionCsrf, SignInGuard, load_secret
from portal.settings import routes as settings_routes
from portal.templating import Templates
from store.files import FileStore
from store.session import Store

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
API_PREFIX = "/api/v1"
HSTS = "max-age=31536000"
"""Under TLS, browsers keep to HTTPS for a year (Strict-Transport-Security)."""

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)

_HTTP_ERRORS = {
    404: ("not-found", Msg("This page does not exist.")),
    405: ("method-not-allowed", Msg("This action is not allowed here.")),
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    files: FileStore | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The portal for `settings`; tests pass their own store, file store and clock."""
    store = store or Store(settings.effective_database_url)
    files = files or FileStore(settings.storage_root)
    sec = settings.portal_security
    policy = session_policy(settings)
    portal = Portal(
        settings=settings,
        store=store,
        files=files,
        clock=clock or _utcnow,
        guard=SignInGuard(sec.login_rate_per_minute, sec.login_lockout_failures, policy.lockout),
        pre_csrf=PreSessionCsrf(load_secret(settings.portal_secret, settings.storage_root)),
        templates=Templates(),
        policy=policy,
    )
    warm_up()

    app = FastAPI(
        title="relais portal API",
        version="1",
        description=(
            "The subscriber portal's JSON API. Sign in with POST /api/v1/session, then send "
            "`Authorization: Bearer <token>`; with the session cookie instead, unsafe methods "
            'need the `X-CSRF-Token` header. Errors are JSON `{"error": id, "detail": text}`.'
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = portal
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    for module in (
        auth_routes,
        home_routes,
        settings_routes,
        notifications_routes,
        messages_routes,
        contacts_routes,
    ):
        app.include_router(module.api, prefix=API_PREFIX)
        app.include_router(module.pages)

    _install_error_handlers(app, portal)

    largest_upload = max(sec.greeting_max_bytes, sec.csv_max_bytes) + 1024 * 1024

    @app.middleware("http")
    async def upload_limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Refuse a body larger than any upload allows before reading it (the exact limit of
        each file is checked where it is read)."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > largest_upload:
            lang = _lang(request, portal)
            msg = Msg("The file is too large (at most %(mb)s MB).", mb=largest_upload // 1_000_000)
            if _is_api(request):
                return JSONResponse(
                    {"error": "file-too-large", "detail": msg.render(lang)}, status_code=413
                )
            return _error_page(portal, request, 413, msg.render(lang))
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CSP)
        if request.url.path.startswith(API_PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _lang(request: Request, portal: Portal) -> str:
    return get_lang(request, portal)


def _error_page(portal: Portal, request: Request, status: int, message: str) -> Response:
    lang = _lang(request, portal)
    ctx = {
        "request": request,
        "auth": None,
        "line": None,
        "nav": "",
        "title": "",
        "flash": None,
        "path": request.url.path,
        "csrf": "",
        "usage": None,
        "status": status,
        "message": message,
    }
    return render(portal, lang, "error.html", ctx, status_code=status)


def _install_error_handlers(app: FastAPI, portal: Portal) -> None:
    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        lang = _lang(request, portal)
        if _is_api(request):
            return JSONResponse(exc.as_json(lang), status_code=exc.status, headers=exc.headers)
        return _error_page(portal, request, exc.status, exc.message.render(lang))

    @app.exception_handler(Invalid)
    async def invalid(request: Request, exc: Invalid) -> Response:
        lang = _lang(request, portal)
        if _is_api(request):
            return JSONResponse(exc.as_json(lang), status_code=exc.status)
        return _error_page(portal, request, exc.status, exc.as_json(lang)["detail"])

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = (
            "/login"
            if exc.next_path in ("/", "/home")
            else ("/login?next=" + quote(exc.next_path, safe=""))
        )
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def password_change_required(request: Request, exc: PasswordChangeRequired) -> Response:
        return RedirectResponse("/security/password", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        lang = _lang(request, portal)
        msg = Msg("The security token of the page is missing or out of date. Reload the page.")
        return _error_page(portal, request, 403, msg.render(lang))

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        lang = _lang(request, portal)
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields.append(
                {
                    "field": ".".join(loc),
                    "error": str(err.get("type", "invalid")),
                    "detail": str(err.get("msg", "")),
                }
            )
        detail = Msg("The request is not valid.").render(lang)
        if fields:
            detail = f"{detail} ({fields[0]['field']}: {fields[0]['detail']})"
        return JSONResponse(
            {"error": "invalid-request", "detail": detail, "fields": fields}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        lang = _lang(request, portal)
        error, msg = _HTTP_ERRORS.get(exc.status_code, ("http-error", Msg("The request failed.")))
        if _is_api(request):
            return JSONResponse(
                {"error": error, "detail": msg.render(lang)},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        return _error_page(portal, request, exc.status_code, msg.render(lang))
