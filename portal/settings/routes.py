"""Message settings page and API: forwarding to e-mail, inbox access, greetings."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.responses import FileResponse, Response

from portal.deps import ApiAuth, ApiLine, CurrentLine, Form, FormLine, Lang, PageAuth, PortalDep
from portal.errors import Invalid, Refused
from portal.i18n import Msg
from portal.pages import frame, redirect, render
from portal.settings import services
from portal.settings.schemas import (
    GreetingOut,
    GreetingsOut,
    MessageSettingsIn,
    MessageSettingsOut,
)

api = APIRouter(tags=["message settings and greetings"])
pages = APIRouter(include_in_schema=False)


async def _read_upload(upload: StarletteUpload, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Refused(
            413,
            "file-too-large",
            Msg("The file is too large (at most %(mb)s MB).", mb=max(1, max_bytes // 1_000_000)),
        )
    return data


def _store(portal: PortalDep, auth: Any, line: Any, kind: str, data: bytes) -> GreetingOut:
    sec = portal.settings.portal_security
    return services.store_greeting(
        portal.store,
        portal.files,
        auth,
        line,
        kind,
        data,
        max_bytes=sec.greeting_max_bytes,
        max_seconds=sec.greeting_max_seconds,
        time_limit=sec.audio_convert_seconds,
    )


# ------------------------------------------------------------------------------------------------
# API


@api.get("/lines/{n}/message-settings", response_model=MessageSettingsOut)
def get_message_settings(line: ApiLine, portal: PortalDep) -> MessageSettingsOut:
    return services.load(portal.store, line)


@api.put(
    "/lines/{n}/message-settings",
    response_model=MessageSettingsOut,
    responses={422: {"description": "invalid field(s); nothing was saved"}},
)
def put_message_settings(
    body: MessageSettingsIn, line: ApiLine, auth: ApiAuth, portal: PortalDep
) -> MessageSettingsOut:
    """Change message settings; fields left out keep their value. All or nothing."""
    return services.save(portal.store, auth, line, body)


@api.get("/lines/{n}/greetings", response_model=GreetingsOut)
def list_greetings(line: ApiLine, portal: PortalDep) -> GreetingsOut:
    """Which greetings have a recording (personal, busy, no_answer, extended_absence, name)."""
    return GreetingsOut(greetings=services.greetings(portal.store, line))


@api.put(
    "/lines/{n}/greetings/{kind}",
    response_model=GreetingOut,
    responses={
        413: {"description": "file too large"},
        415: {"description": "not audio in a known format"},
        422: {"description": "audio cannot be decoded, is empty or too long"},
    },
)
async def put_greeting(
    kind: str, file: UploadFile, line: ApiLine, auth: ApiAuth, portal: PortalDep
) -> GreetingOut:
    """Upload or record a greeting: any common audio format, kept as 8 kHz mono WAV."""
    data = await _read_upload(file, portal.settings.portal_security.greeting_max_bytes)
    return await run_in_threadpool(_store, portal, auth, line, kind, data)


@api.get("/lines/{n}/greetings/{kind}", response_class=FileResponse)
def get_greeting(kind: str, line: ApiLine, portal: PortalDep) -> FileResponse:
    """The greeting's audio (audio/wav; Range requests supported)."""
    path = services.greeting_path(portal.store, portal.files, line, kind)
    response = FileResponse(path, media_type="audio/wav", filename=f"{kind}.wav")
    response.headers["Cache-Control"] = "no-store"
    return response


@api.delete("/lines/{n}/greetings/{kind}", status_code=204, response_class=Response)
def delete_greeting(kind: str, line: ApiLine, auth: ApiAuth, portal: PortalDep) -> Response:
    """Delete a recording (refused with 409 while it is in use)."""
    services.delete_greeting(portal.store, portal.files, auth, line, kind)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------
# Pages


def _on(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def message_form(form: FormData) -> dict[str, Any]:
    kept = [v.strip() for v in form.getlist("forward_emails") if isinstance(v, str) and v.strip()]
    added = str(form.get("forward_emails_add") or "").strip()
    emails = list(dict.fromkeys(kept + ([added] if added else [])))
    language = form.get("language")
    return {
        **({"language": language} if language in ("fr", "en") else {}),
        "forward_to_email": _on(form, "forward_to_email"),
        "forward_emails": emails,
        "keep_original": _on(form, "keep_original"),
        "skip_pin": _on(form, "skip_pin"),
        "quick_login": _on(form, "quick_login"),
        "autoplay_voice": _on(form, "autoplay_voice"),
        "autoplay_fax": _on(form, "autoplay_fax"),
        "envelope_mode": str(form.get("envelope_mode") or "both"),
        "greeting": str(form.get("greeting") or "system"),
        "busy_greeting_enabled": _on(form, "busy_greeting_enabled"),
        "no_answer_greeting_enabled": _on(form, "no_answer_greeting_enabled"),
        "extended_absence_enabled": _on(form, "extended_absence_enabled"),
    }


def _page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    *,
    ms: Any = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="home")
    ms = ms or services.load(portal.store, line)
    locked = ms.pin_locked_until
    ctx.update(
        {
            "ms": ms,
            "pin_locked_at": (
                locked.astimezone(ZoneInfo(auth.timezone)).strftime("%H:%M") if locked else ""
            ),
            "errors": errors or {},
            "max_seconds": portal.settings.portal_security.greeting_max_seconds,
            "max_mb": max(1, portal.settings.portal_security.greeting_max_bytes // 1_000_000),
        }
    )
    return render(portal, lang, "message_settings.html", ctx, status_code=status_code)


@pages.get("/message-settings")
def message_settings_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _page(request, portal, lang, auth, line)


@pages.post("/message-settings")
def message_settings_submit(
    request: Request, form: Form, portal: PortalDep, lang: Lang, auth: PageAuth, line: FormLine
) -> Response:
    data = message_form(form)
    try:
        update = MessageSettingsIn(**data)
    except ValidationError:  # a forged choice outside the lists
        update = None
    if update is not None:
        try:
            services.save(portal.store, auth, line, update)
            return redirect("/message-settings", "saved")
        except Invalid as exc:
            errors = exc.by_field(lang)
    else:
        errors = {"greeting": Msg("This value is not valid.").render(lang)}
    current = services.load(portal.store, line)
    draft = current.model_copy(
        update={k: v for k, v in data.items() if k not in ("envelope_mode", "greeting")}
    )
    return _page(request, portal, lang, auth, line, ms=draft, errors=errors, status_code=422)


@pages.post("/message-settings/greetings/{kind}")
async def greeting_upload_page(
    kind: str, form: Form, portal: PortalDep, auth: PageAuth, line: FormLine
) -> Response:
    """Upload a greeting from the page without script (the dialog uses the API)."""
    upload = form.get("file")
    if not isinstance(upload, StarletteUpload):
        raise Refused(422, "audio-empty", Msg("Choose an audio file first."))
    data = await _read_upload(upload, portal.settings.portal_security.greeting_max_bytes)
    await run_in_threadpool(_store, portal, auth, line, kind, data)
    return redirect("/message-settings", "saved")


@pages.post("/message-settings/greetings/{kind}/delete")
def greeting_delete_page(
    kind: str, form: Form, portal: PortalDep, auth: PageAuth, line: FormLine
) -> Response:
    services.delete_greeting(portal.store, portal.files, auth, line, kind)
    return redirect("/message-settings", "saved")
