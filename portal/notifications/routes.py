"""Notifications page and API (settings only; sending them is the notifier's job)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from portal.deps import ApiAuth, ApiLine, CurrentLine, Form, FormLine, Lang, PageAuth, PortalDep
from portal.errors import Invalid, Problems
from portal.i18n import Msg
from portal.notifications import services
from portal.notifications.schemas import NotificationsIn, NotificationsOut
from portal.pages import frame, redirect, render
from routing.numbers import for_account
from store import repository

api = APIRouter(tags=["notifications"])
pages = APIRouter(include_in_schema=False)


def _context(portal: PortalDep, auth: Any, line: Any) -> dict[str, Any]:
    with portal.store.read() as s:
        account = repository.get_line(s, line.number).account
        intl, abroad = account.allow_international, account.allow_nanp_abroad
    today = portal.now().astimezone(ZoneInfo(auth.timezone)).date()
    plan = for_account(portal.dial_plan, abroad)
    return {"plan": plan, "allow_international": intl, "today": today}


def _save(portal: PortalDep, auth: Any, line: Any, update: NotificationsIn) -> NotificationsOut:
    return services.save(portal.store, auth, line, update, **_context(portal, auth, line))


@api.get("/lines/{n}/notifications", response_model=NotificationsOut)
def get_notifications(line: ApiLine, auth: ApiAuth, portal: PortalDep) -> NotificationsOut:
    """Notification settings (held by the primary line: `held_by`)."""
    return services.load(portal.store, auth, line)


@api.put(
    "/lines/{n}/notifications",
    response_model=NotificationsOut,
    responses={422: {"description": "invalid field(s); nothing was saved"}},
)
def put_notifications(
    body: NotificationsIn, line: ApiLine, auth: ApiAuth, portal: PortalDep
) -> NotificationsOut:
    """Change notification settings; sections and fields left out keep their value."""
    return _save(portal, auth, line, body)


# ------------------------------------------------------------------------------------------------
# Form


def _text(form: FormData, name: str) -> str:
    v = form.get(name)
    return v.strip() if isinstance(v, str) else ""


def _on(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def _count(form: FormData, name: str) -> int:
    raw = _text(form, name)
    return min(int(raw), 100) if raw.isdigit() else 0


def _types(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _int(form: FormData, name: str, field: str, default: int, problems: Problems) -> int:
    raw = _text(form, name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        problems.add(field, "not-a-number", Msg("Enter a whole number."))
        return default


def _schedule(form: FormData, prefix: str) -> list[dict[str, Any]]:
    out = []
    for i in range(_count(form, f"{prefix}_sched_rows")):
        key = f"{prefix}-sched-{i}"
        if f"{key}-start" not in form:
            continue
        days = []
        for d in form.getlist(f"{key}-days"):
            if isinstance(d, str) and d.isdigit():
                days.append(int(d))
        out.append(
            {"days": days, "start": _text(form, f"{key}-start"), "end": _text(form, f"{key}-end")}
        )
    return out


def notifications_form(form: FormData) -> tuple[dict[str, Any], Problems]:
    problems = Problems()
    mwi = []
    for i in range(_count(form, "mwi_rows")):
        number = _text(form, f"mwi-{i}-number")
        if number:
            mwi.append({"number": number, "types": _types(form, f"mwi-{i}-types")})
    emails = []
    for i in range(_count(form, "email_rows")):
        address = _text(form, f"email-{i}-address")
        if address:
            emails.append({"address": address, "types": _types(form, f"email-{i}-types")})

    def calls(prefix: str) -> dict[str, Any]:
        return {
            "enabled": _on(form, f"{prefix}_enabled"),
            "schedule": _schedule(form, prefix),
            "number": _text(form, f"{prefix}_number"),
            "types": _types(form, f"{prefix}_types"),
            "delay_normal_minutes": _int(
                form,
                f"{prefix}_delay_normal_minutes",
                f"{prefix}.delay_normal_minutes",
                0,
                problems,
            ),
            "delay_urgent_minutes": _int(
                form,
                f"{prefix}_delay_urgent_minutes",
                f"{prefix}.delay_urgent_minutes",
                0,
                problems,
            ),
            "max_attempts": _int(
                form, f"{prefix}_max_attempts", f"{prefix}.max_attempts", 3, problems
            ),
            "retry_minutes": _int(
                form, f"{prefix}_retry_minutes", f"{prefix}.retry_minutes", 15, problems
            ),
            "stop_on_answer": _on(form, f"{prefix}_stop_on_answer"),
            "stop_on_access": _on(form, f"{prefix}_stop_on_access"),
        }

    override = calls("override")
    raw_end = _text(form, "override_end_date")
    override["end_date"] = None
    if raw_end:
        try:
            override["end_date"] = date.fromisoformat(raw_end)
        except ValueError:
            problems.add(
                "override.end_date", "invalid-date", Msg("Enter a date such as 2026-12-31.")
            )
    data = {
        "mwi": {"enabled": _on(form, "mwi_enabled"), "targets": mwi},
        "email": {"enabled": _on(form, "email_enabled"), "targets": emails},
        "pager": {
            "enabled": _on(form, "pager_enabled"),
            "schedule": _schedule(form, "pager"),
            "address": _text(form, "pager_address"),
            "number": _text(form, "pager_number"),
            "callback_number": _text(form, "pager_callback_number"),
            "types": _types(form, "pager_types"),
        },
        "outdial": calls("outdial"),
        "override": override,
    }
    return data, problems


def _page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    *,
    ns: Any = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="home")
    ctx.update({"ns": ns or services.load(portal.store, auth, line), "errors": errors or {}})
    return render(portal, lang, "notifications.html", ctx, status_code=status_code)


@pages.get("/notifications")
def notifications_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _page(request, portal, lang, auth, line)


@pages.post("/notifications")
def notifications_submit(
    request: Request, form: Form, portal: PortalDep, lang: Lang, auth: PageAuth, line: FormLine
) -> Response:
    data, problems = notifications_form(form)
    invalid: Invalid | None = None
    update: NotificationsIn | None = None
    try:
        update = NotificationsIn(**data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.add(
                ".".join(str(p) for p in err["loc"]),
                "invalid-value",
                Msg("This value is not valid."),
            )
    if update is not None and not problems:
        try:
            _save(portal, auth, line, update)
            return redirect("/notifications", "saved")
        except Invalid as exc:
            invalid = exc
    elif update is not None:
        # The form had unreadable values: check the rest too, to show every problem at once.
        merged = services.merge(services.load(portal.store, auth, line), update)
        services.check(merged, problems, **_context(portal, auth, line))
    if invalid is None:
        invalid = Invalid(problems.items)
    current = services.load(portal.store, auth, line)
    draft = _Obj(
        {
            "line": current.line,
            "held_by": current.held_by,
            **{k: _loose(current, k, v) for k, v in data.items()},
        }
    )
    return _page(
        request, portal, lang, auth, line, ns=draft, errors=invalid.by_field(lang), status_code=422
    )


class _Obj:
    """Attribute access over a dict, to show a refused form again as it was typed."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(
            {
                k: [_Obj(x) if isinstance(x, dict) else x for x in v] if isinstance(v, list) else v
                for k, v in data.items()
            }
        )


def _loose(current: NotificationsOut, section: str, data: dict[str, Any]) -> Any:
    merged = {**getattr(current, section).model_dump(), **data}
    return _Obj(merged)
