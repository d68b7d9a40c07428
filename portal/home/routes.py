"""The home page (phone state, incoming calls, UCN table, fallbacks, advanced settings, preview),
the call-settings page, usage, help, feedback and the account page."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from portal.deps import ApiAuth, ApiLine, CurrentLine, Form, FormLine, Lang, PageAuth, PortalDep
from portal.errors import Invalid, Problems
from portal.home import preview as preview_service
from portal.home import services
from portal.home.account import (
    AccountIn,
    FeedbackIn,
    UsageOut,
    account_view,
    contact_choices,
    rename,
    send_feedback,
)
from portal.home.schemas import CallSettingsIn, CallSettingsOut, PreviewOut
from portal.i18n import Msg
from portal.pages import frame, redirect, render, safe_next, usage
from routing.model import MAX_ROWS, MAX_STAGES
from routing.numbers import for_account
from store import repository

api = APIRouter(tags=["call settings"])
pages = APIRouter(include_in_schema=False)


def _save(portal: PortalDep, auth: Any, line: Any, update: CallSettingsIn) -> CallSettingsOut:
    cfg = portal.settings
    return services.save(
        portal.store,
        auth,
        line,
        update,
        plan=portal.dial_plan,
        forward_timeout=cfg.routing.forward_timeout,
        max_diversions=cfg.routing.max_diversions,
    )


# ------------------------------------------------------------------------------------------------
# API


@api.get("/lines/{n}/call-settings", response_model=CallSettingsOut)
def get_call_settings(line: ApiLine, auth: ApiAuth, portal: PortalDep) -> CallSettingsOut:
    """What the switch uses for the next call to line n."""
    return services.load(portal.store, auth, line)


@api.put(
    "/lines/{n}/call-settings",
    response_model=CallSettingsOut,
    responses={422: {"description": "invalid field(s); nothing was saved"}},
)
def put_call_settings(
    body: CallSettingsIn, line: ApiLine, auth: ApiAuth, portal: PortalDep
) -> CallSettingsOut:
    """Change call settings; fields left out keep their value. All or nothing."""
    return _save(portal, auth, line, body)


@api.get("/lines/{n}/preview", response_model=PreviewOut)
def get_preview(
    line: ApiLine,
    portal: PortalDep,
    lang: Lang,
    caller: Annotated[str | None, Query(max_length=40)] = None,
    anonymous: bool = False,
) -> PreviewOut:
    """What happens if `caller` (or an anonymous caller) calls line n now."""
    return _preview(portal, line, caller, anonymous, lang)


def _preview(
    portal: PortalDep, line: Any, caller: str | None, anonymous: bool, lang: str
) -> PreviewOut:
    cfg = portal.settings
    return preview_service.preview(
        portal.store,
        line,
        caller=caller,
        anonymous=anonymous,
        now=portal.now(),
        plan=portal.dial_plan,
        forward_timeout=cfg.routing.forward_timeout,
        max_diversions=cfg.routing.max_diversions,
        lang=lang,
    )


@api.get("/lines/{n}/usage", response_model=UsageOut)
def get_usage(line: ApiLine, portal: PortalDep) -> UsageOut:
    """Audio held by the mailbox (deleted messages count until purged) and its limit."""
    u = usage(portal, line.number)
    return UsageOut(
        used_seconds=round(u.used_seconds, 3),
        limit_seconds=u.limit_seconds,
        percent=u.percent,
        warning=u.warning,
    )


@api.post("/feedback", status_code=201)
def post_feedback(body: FeedbackIn, auth: ApiAuth, portal: PortalDep) -> dict[str, int]:
    """Send feedback about the service (stored for the operator)."""
    fid = send_feedback(portal.store, auth, auth.primary.number, body.body)
    return {"id": fid}


@api.put("/account", status_code=204, response_class=Response)
def put_account(body: AccountIn, auth: ApiAuth, portal: PortalDep) -> Response:
    """Change the account's display name."""
    rename(portal.store, auth, body.name)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------
# Form <-> settings


_SPLIT = re.compile(r"[,;\n]+")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _on(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def _int(form: FormData, name: str, problems: Problems, field: str) -> int | None:
    raw = _text(form, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        problems.add(field, "not-a-number", Msg("Enter a number of seconds."))
        return None


def _list(form: FormData, name: str) -> list[str]:
    kept = [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]
    added = [v.strip() for v in _SPLIT.split(_text(form, name + "_add")) if v.strip()]
    return list(dict.fromkeys(kept + added))


def _confirm(form: FormData, i: int) -> bool | None:
    """A row's "press 1 to accept" box. A row added on the page (`-confirm-new`) keeps the
    default (on for outside numbers, off for local lines) while its box stays ticked."""
    on = _on(form, f"ucn-{i}-confirm")
    if _text(form, f"ucn-{i}-confirm-new"):
        return None if on else False
    return on


def home_form(form: FormData) -> tuple[dict[str, Any], Problems]:
    """The home page's form as a CallSettingsIn dict (every field), and parsing problems."""
    problems = Problems()
    rows: list[dict[str, Any]] = []
    count = min(int(_text(form, "ucn_rows") or 0) if _text(form, "ucn_rows").isdigit() else 0, 64)
    for i in range(count):
        number = _text(form, f"ucn-{i}-number")
        if not number:
            continue
        cells: list[int | None] = []
        for k in range(MAX_STAGES + 4):
            name = f"ucn-{i}-cell-{k}"
            if name not in form:
                break
            cells.append(_int(form, name, problems, f"ring_table.{len(rows)}.cells.{k}"))
        rows.append(
            {
                "number": number,
                "cells": cells,
                "allow_remote_forwarding": _on(form, f"ucn-{i}-remote"),
                "confirm_answer": _confirm(form, i),
            }
        )
    new_number = _text(form, "ucn-new-number")
    if new_number and len(rows) < MAX_ROWS + 1:
        rows.append(
            {
                "number": new_number,
                "cells": [],
                "allow_remote_forwarding": False,
                "confirm_answer": None,
            }
        )
    forwarding: list[dict[str, Any]] = []
    fcount = int(_text(form, "fwd_rows")) if _text(form, "fwd_rows").isdigit() else 0
    for i in range(min(fcount, 100)):
        number = _text(form, f"fwd-{i}-number")
        if not number or _on(form, f"fwd-{i}-remove"):
            continue
        temporary = _on(form, f"fwd-{i}-temporary") and not _on(form, f"fwd-{i}-save")
        forwarding.append(
            {"number": number, "label": _text(form, f"fwd-{i}-label"), "temporary": temporary}
        )
    if _text(form, "fwd-new-number"):
        forwarding.append(
            {"number": _text(form, "fwd-new-number"), "label": _text(form, "fwd-new-label")}
        )
    timeout = _int(form, "no_answer_timeout", problems, "no_answer_timeout")
    data: dict[str, Any] = {
        "phone_state": _text(form, "phone_state") or "available",
        "incoming_mode": _text(form, "incoming_mode") or "ring_account",
        "forward_all_to": _text(form, "forward_all_to") or None,
        "ring_table": rows,
        "no_answer_action": _text(form, "no_answer_action") or "voicemail",
        "no_answer_to": _text(form, "no_answer_to") or None,
        "no_answer_timeout": timeout if timeout is not None else 24,
        "busy_action": _text(form, "busy_action") or "voicemail",
        "busy_to": _text(form, "busy_to") or None,
        "unavailable_forwarding": _on(form, "unavailable_forwarding"),
        "unavailable_to": _text(form, "unavailable_to") or None,
        "selective_forwarding": _on(form, "selective_forwarding"),
        "selective_forward_to": _text(form, "selective_forward_to") or None,
        "forward_list": _list(form, "forward_list"),
        "selective_rejection": _on(form, "selective_rejection"),
        "reject_list": _list(form, "reject_list"),
        "anonymous_rejection": _on(form, "anonymous_rejection"),
        "forwarding_numbers": forwarding,
    }
    if timeout is None and _text(form, "no_answer_timeout") == "":
        problems.add("no_answer_timeout", "required", Msg("Enter a number of seconds."))
    return data, problems


def options_form(form: FormData) -> dict[str, Any]:
    """The call-settings page: one checkbox per option (and the numbers they forward to)."""
    data: dict[str, Any] = {
        "phone_state": "dnd" if _on(form, "dnd") else "available",
        "selective_forwarding": _on(form, "selective_forwarding"),
        "selective_rejection": _on(form, "selective_rejection"),
        "unavailable_forwarding": _on(form, "unavailable_forwarding"),
        "anonymous_rejection": _on(form, "anonymous_rejection"),
    }
    if "selective_forward_to" in form:
        data["selective_forward_to"] = _text(form, "selective_forward_to") or None
    if "unavailable_to" in form:
        data["unavailable_to"] = _text(form, "unavailable_to") or None
    return data


def _submit(
    portal: PortalDep, auth: Any, line: Any, data: dict[str, Any], problems: Problems
) -> Invalid | None:
    """Save `data`; the Invalid to show when something is wrong (nothing saved then)."""
    try:
        update = CallSettingsIn(**data)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            problems.add(field, "invalid-value", Msg("This value is not valid."))
        return Invalid(problems.items)
    try:
        if problems:
            # The form had unreadable values: check the rest too, to show every problem at once.
            _check_only(portal, auth, line, update)
        else:
            _save(portal, auth, line, update)
            return None
    except Invalid as exc:
        problems.items.extend(exc.problems)
    return Invalid(problems.items)


def _check_only(portal: PortalDep, auth: Any, line: Any, update: CallSettingsIn) -> None:
    cfg = portal.settings
    current = services.load(portal.store, auth, line, stored=True)
    merged = services.merge(current, update)
    with portal.store.read() as s:
        account = repository.get_line(s, line.number).account
        intl, abroad = account.allow_international, account.allow_nanp_abroad
    services.check(
        merged,
        ucn_enabled=auth.ucn_enabled,
        plan=for_account(portal.dial_plan, abroad),
        allow_international=intl,
        forward_timeout=cfg.routing.forward_timeout,
        max_diversions=cfg.routing.max_diversions,
        has_devices=True,
    )


# ------------------------------------------------------------------------------------------------
# Pages


def _home(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    *,
    cs: Any = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="home")
    current = services.load(portal.store, auth, line)
    ctx.update(
        {
            "cs": cs or current,
            "saved": current,
            "errors": errors or {},
            "contacts": contact_choices(portal.store, auth),
            "max_rows": MAX_ROWS,
            "max_stages": MAX_STAGES,
            "preview": None,
            "preview_caller": request.query_params.get("caller", ""),
            "preview_anonymous": request.query_params.get("anonymous") == "on",
            "preview_errors": {},
        }
    )
    if "caller" in request.query_params or "anonymous" in request.query_params:
        try:
            ctx["preview"] = _preview(
                portal, line, ctx["preview_caller"], ctx["preview_anonymous"], lang
            )
        except Invalid as exc:
            ctx["preview_errors"] = exc.by_field(lang)
    return render(portal, lang, "home.html", ctx, status_code=status_code)


@pages.get("/home")
def home_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _home(request, portal, lang, auth, line)


@pages.post("/home")
def home_submit(
    request: Request, form: Form, portal: PortalDep, lang: Lang, auth: PageAuth, line: FormLine
) -> Response:
    data, problems = home_form(form)
    invalid = _submit(portal, auth, line, data, problems)
    if invalid is None:
        return redirect("/home", "saved")
    draft = CallSettingsOut.model_construct(line=line.number, ucn_enabled=auth.ucn_enabled, **data)
    return _home(
        request,
        portal,
        lang,
        auth,
        line,
        cs=draft,
        errors=invalid.by_field(lang),
        status_code=422,
    )


@pages.get("/home/preview")
def preview_fragment(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    """The preview as an HTML fragment (the home page's script asks for it)."""
    caller = request.query_params.get("caller", "")
    anonymous = request.query_params.get("anonymous") == "on"
    ctx: dict[str, Any] = {"preview": None, "preview_errors": {}}
    status = 200
    try:
        ctx["preview"] = _preview(portal, line, caller, anonymous, lang)
    except Invalid as exc:
        ctx["preview_errors"] = exc.by_field(lang)
        status = 422
    response = portal.templates.response(lang, "_preview.html", ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _options_page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    *,
    cs: Any = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="home")
    ctx.update({"cs": cs or services.load(portal.store, auth, line), "errors": errors or {}})
    return render(portal, lang, "call_settings.html", ctx, status_code=status_code)


@pages.get("/call-settings")
def call_settings_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _options_page(request, portal, lang, auth, line)


@pages.post("/call-settings")
def call_settings_submit(
    request: Request, form: Form, portal: PortalDep, lang: Lang, auth: PageAuth, line: FormLine
) -> Response:
    data = options_form(form)
    invalid = _submit(portal, auth, line, data, Problems())
    if invalid is None:
        return redirect("/call-settings", "saved")
    current = services.load(portal.store, auth, line)
    draft = current.model_copy(update=data)
    return _options_page(
        request,
        portal,
        lang,
        auth,
        line,
        cs=draft,
        errors=invalid.by_field(lang),
        status_code=422,
    )


@pages.get("/help")
def help_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    from ivr import guide

    ctx = frame(request, portal, lang, auth, line)
    # Voicemail by phone, written out from the IVR's own menus (the README has the same).
    ctx["phone_intro"] = guide.intro(lang, portal.settings.pilot_number)
    ctx["phone_menus"] = guide.menus(lang)
    return render(portal, lang, "help.html", ctx)


def _feedback_page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    errors: dict[str, str] | None = None,
    body: str = "",
    next_path: str = "/home",
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line)
    ctx.update({"errors": errors or {}, "body": body, "next": next_path})
    return render(portal, lang, "feedback.html", ctx, status_code=status_code)


@pages.get("/feedback")
def feedback_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _feedback_page(
        request, portal, lang, auth, line, next_path=safe_next(request.query_params.get("next"))
    )


@pages.post("/feedback")
def feedback_submit(
    request: Request, form: Form, portal: PortalDep, lang: Lang, auth: PageAuth, line: FormLine
) -> Response:
    body = str(form.get("body") or "")
    target = safe_next(str(form.get("next") or ""))
    try:
        send_feedback(portal.store, auth, line.number, body)
    except Invalid as exc:
        return _feedback_page(
            request, portal, lang, auth, line, exc.by_field(lang), body, target, status_code=422
        )
    return redirect(target, "feedback")


def _account_page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line)
    ctx.update({"account": account_view(portal.store, auth), "errors": errors or {}})
    return render(portal, lang, "account.html", ctx, status_code=status_code)


@pages.get("/account")
def account_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _account_page(request, portal, lang, auth, line)


@pages.post("/account")
def account_submit(
    request: Request, form: Form, portal: PortalDep, lang: Lang, auth: PageAuth, line: FormLine
) -> Response:
    try:
        rename(portal.store, auth, str(form.get("name") or ""))
    except Invalid as exc:
        return _account_page(request, portal, lang, auth, line, exc.by_field(lang), 422)
    return redirect("/account", "saved")
