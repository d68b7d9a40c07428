"""Sign-in and sign-out, the line switcher, the language switch, password and PIN changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from portal.auth import services
from portal.auth.schemas import (
    AccountOut,
    LineOut,
    LinesOut,
    PasswordIn,
    PinIn,
    SessionIn,
    SessionOut,
)
from portal.auth.services import Auth, SignedIn
from portal.deps import (
    LINE_NOT_FOUND,
    ApiAuth,
    ApiLine,
    Client,
    CurrentLine,
    Form,
    FormLine,
    Lang,
    PageAuth,
    PortalDep,
    optional_page_auth,
)
from portal.errors import Invalid, Refused
from portal.i18n import LANG_COOKIE, LANGUAGES, Msg, format_number
from portal.pages import frame, redirect, render, safe_next
from portal.security import (
    CSRF_FIELD,
    LINE_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    token_hash,
)

api = APIRouter(tags=["session and account"])
pages = APIRouter(include_in_schema=False)

YEAR = 365 * 24 * 3600


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(LINE_COOKIE, path="/")


def account_out(auth: Auth) -> AccountOut:
    return AccountOut(
        name=auth.display_name,
        timezone=auth.timezone,
        ucn_enabled=auth.ucn_enabled,
        lines=[
            LineOut(number=ln.number, primary=ln.is_primary, display=format_number(ln.number))
            for ln in auth.lines
        ],
    )


def _session_out(portal: PortalDep, signed: SignedIn, via: str) -> SessionOut:
    auth = services.resolve(portal.store, portal.policy, signed.token, via, portal.now())
    assert auth is not None
    return SessionOut(
        token=signed.token,
        csrf_token=signed.csrf_token,
        expires_at=signed.expires_at,
        account=account_out(auth),
    )


# ------------------------------------------------------------------------------------------------
# API


@api.post(
    "/session",
    response_model=SessionOut,
    responses={401: {"description": "bad credentials"}, 429: {"description": "locked or limited"}},
)
def open_session(
    body: SessionIn, request: Request, response: Response, portal: PortalDep, client: Client
) -> SessionOut:
    """Sign in with the mailbox number and the portal password (also sets the session cookie)."""
    old = request.cookies.get(SESSION_COOKIE)
    signed = services.sign_in(
        portal.store,
        portal.policy,
        portal.guard,
        number=body.number,
        password=body.password,
        client=client,
        now=portal.now(),
        replaces=token_hash(old) if old else None,
    )
    set_session_cookie(response, request, signed.token)
    return _session_out(portal, signed, "bearer")


@api.delete("/session", status_code=204, response_class=Response)
def close_session(auth: ApiAuth, portal: PortalDep) -> Response:
    """Sign out: the token (or cookie) stops working at once."""
    services.sign_out(portal.store, auth)
    response = Response(status_code=204)
    clear_session_cookies(response)
    return response


@api.get("/account", response_model=AccountOut)
def get_account(auth: ApiAuth) -> AccountOut:
    """The signed-in account: name, time zone, lines."""
    return account_out(auth)


@api.get("/lines", response_model=LinesOut)
def get_lines(auth: ApiAuth) -> LinesOut:
    """The lines (mailboxes) of the signed-in account."""
    return LinesOut(lines=account_out(auth).lines)


@api.put("/account/password", response_model=SessionOut)
def put_password(
    body: PasswordIn,
    request: Request,
    response: Response,
    auth: ApiAuth,
    portal: PortalDep,
    client: Client,
) -> SessionOut:
    """Change the portal password. Every session ends; the answer carries a new one."""
    signed = services.change_password(
        portal.store,
        portal.policy,
        auth,
        current=body.current,
        new=body.new,
        confirm=body.confirm,
        client=client,
        now=portal.now(),
    )
    set_session_cookie(response, request, signed.token)
    return _session_out(portal, signed, auth.via)


@api.put("/account/services-pin", status_code=204, response_class=Response)
def put_services_pin(body: PinIn, auth: ApiAuth, portal: PortalDep) -> Response:
    """Change the call-services PIN (rules of S9)."""
    services.change_services_pin(portal.store, auth, new=body.new, confirm=body.confirm)
    return Response(status_code=204)


@api.put("/lines/{n}/voicemail-pin", status_code=204, response_class=Response)
def put_voicemail_pin(body: PinIn, line: ApiLine, auth: ApiAuth, portal: PortalDep) -> Response:
    """Change the voicemail PIN of line n's mailbox (rules of S9)."""
    services.change_voicemail_pin(portal.store, auth, line, new=body.new, confirm=body.confirm)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------
# Pages


@pages.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/home", status_code=303)


def _login_page(
    request: Request,
    portal: PortalDep,
    lang: str,
    *,
    number: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    cookie = request.cookies.get(PRE_COOKIE) or portal.pre_csrf.new_cookie()
    ctx = frame(request, portal, lang, None, None, title="Sign in")
    ctx.update(
        {
            "pre_token": portal.pre_csrf.token_for(cookie),
            "number": number,
            "error": error,
            "next": safe_next(request.query_params.get("next")),
        }
    )
    response = render(portal, lang, "login.html", ctx, status_code=status_code)
    response.set_cookie(
        PRE_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@pages.get("/login")
def login_page(
    request: Request,
    portal: PortalDep,
    lang: Lang,
    auth: Annotated[Auth | None, Depends(optional_page_auth)],
) -> Response:
    if auth is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request, portal, lang)


@pages.post("/login")
async def login_submit(request: Request, portal: PortalDep, lang: Lang, client: Client) -> Response:
    form = await request.form()
    number = str(form.get("number") or "")[:32]
    password = str(form.get("password") or "")[:1024]
    if not portal.pre_csrf.valid(request.cookies.get(PRE_COOKIE), str(form.get(CSRF_FIELD) or "")):
        msg = Msg("The sign-in page was out of date. Please try again.")
        return _login_page(
            request, portal, lang, number=number, error=msg.render(lang), status_code=403
        )
    old = request.cookies.get(SESSION_COOKIE)
    try:
        signed = await run_in_threadpool(
            services.sign_in,
            portal.store,
            portal.policy,
            portal.guard,
            number=number,
            password=password,
            client=client,
            now=portal.now(),
            replaces=token_hash(old) if old else None,
        )
    except Refused as exc:
        response = _login_page(
            request,
            portal,
            lang,
            number=number,
            error=exc.message.render(lang),
            status_code=exc.status,
        )
        for key, value in exc.headers.items():
            response.headers[key] = value
        return response
    target = safe_next(str(form.get("next") or ""))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, signed.token)
    response.delete_cookie(PRE_COOKIE, path="/")
    response.delete_cookie(LINE_COOKIE, path="/")
    return response


@pages.post("/logout")
def logout(form: Form, auth: PageAuth, portal: PortalDep) -> Response:
    services.sign_out(portal.store, auth)
    response = redirect("/login", "signed-out")
    clear_session_cookies(response)
    return response


@pages.post("/line")
def switch_line(form: Form, auth: PageAuth) -> Response:
    """The line switcher: remember the chosen line and go back to the same page."""
    number = form.get("number")
    line = auth.line(number) if isinstance(number, str) else None
    if line is None:
        raise Refused(404, "line-not-found", LINE_NOT_FOUND)
    response = redirect(safe_next(str(form.get("next") or "")), "line")
    response.set_cookie(LINE_COOKIE, line.number, httponly=True, samesite="lax", path="/")
    return response


@pages.get("/lang/{code}")
def switch_language(code: str, next: Annotated[str, Query()] = "/home") -> Response:
    """The language switch of the footer, remembered in a cookie for a year."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=YEAR, samesite="lax", path="/")
    return response


# Password and PINs: the footer opens them as dialogs; the same forms work as pages.

SECURITY_FORMS = {
    "password": ("security_password", "password"),
    "services-pin": ("security_services_pin", "services-pin"),
    "voicemail-pin": ("security_voicemail_pin", "voicemail-pin"),
}


def _security_page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Auth,
    line: services.LineRef,
    kind: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line)
    ctx.update(
        {
            "kind": kind,
            "errors": errors or {},
            "next": safe_next(request.query_params.get("next")),
        }
    )
    return render(portal, lang, "security.html", ctx, status_code=status_code)


@pages.get("/security/{kind}")
def security_page(
    kind: str, request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    if kind not in SECURITY_FORMS:
        raise HTTPException(404)
    return _security_page(request, portal, lang, auth, line, kind)


@pages.post("/security/{kind}")
def security_submit(
    kind: str,
    request: Request,
    form: Form,
    portal: PortalDep,
    lang: Lang,
    auth: PageAuth,
    line: FormLine,
    client: Client,
) -> Response:
    if kind not in SECURITY_FORMS:
        raise HTTPException(404)
    new = str(form.get("new") or "")
    confirm = str(form.get("confirm") or "")
    target = safe_next(str(form.get("next") or ""))
    try:
        if kind == "password":
            signed = services.change_password(
                portal.store,
                portal.policy,
                auth,
                current=str(form.get("current") or ""),
                new=new,
                confirm=confirm,
                client=client,
                now=portal.now(),
            )
            response = redirect(target, "password")
            set_session_cookie(response, request, signed.token)
            return response
        if kind == "services-pin":
            services.change_services_pin(portal.store, auth, new=new, confirm=confirm)
            return redirect(target, "services-pin")
        services.change_voicemail_pin(portal.store, auth, line, new=new, confirm=confirm)
        return redirect(target, "voicemail-pin")
    except Invalid as exc:
        return _security_page(
            request, portal, lang, auth, line, kind, exc.by_field(lang), status_code=422
        )
