"""The Messages page (tabs Messages, Faxes, Missed, Received, Deleted; dialogs to reply, forward
and send new voice messages) and the messages, calls and events API (SPEC S8, S14)."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.responses import Response, StreamingResponse

from portal.deps import ApiAuth, ApiLine, CurrentLine, Form, FormLine, Lang, PageAuth, PortalDep
from portal.errors import Invalid, Problem, Refused
from portal.i18n import Msg
from portal.messages import live, sending, services
from portal.messages.ranges import file_response
from portal.messages.schemas import (
    BulkOut,
    CallsOut,
    DeliveryOut,
    EmailForwardOut,
    FaxSendsOut,
    ForwardIn,
    MessageOut,
    MessagePatch,
    MessagesOut,
)
from portal.pages import Usage, frame, page_number, pager, redirect, render, safe_next

api = APIRouter(tags=["messages"])
pages = APIRouter(include_in_schema=False)

_SPLIT = re.compile(r"[,;\n]+")
MULTIPART = {"multipart/form-data": {"schema": {"type": "object"}}}


def _values(form: FormData, name: str) -> list[str]:
    out: list[str] = []
    for v in form.getlist(name):
        if isinstance(v, str):
            out += [p.strip() for p in _SPLIT.split(v) if p.strip()]
    return out


def _flag(form: FormData, name: str) -> bool:
    return str(form.get(name) or "").lower() in ("1", "true", "on", "yes")


async def _file(form: FormData, name: str, max_bytes: int) -> bytes | None:
    upload = form.get(name)
    if not isinstance(upload, StarletteUpload):
        return None
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Refused(
            413,
            "file-too-large",
            Msg("The file is too large (at most %(mb)s MB).", mb=max(1, max_bytes // 1_000_000)),
        )
    return data or None


async def _multipart(request: Request) -> FormData:
    return await request.form(max_files=2, max_fields=400)


def _audio_limit(portal: PortalDep) -> int:
    return portal.settings.portal_security.greeting_max_bytes


# ------------------------------------------------------------------------------------------------
# API: messages


@api.get("/lines/{n}/messages", response_model=MessagesOut)
def list_messages(
    line: ApiLine,
    auth: ApiAuth,
    portal: PortalDep,
    lang: Lang,
    folder: Literal["inbox", "deleted"] = "inbox",
    kind: Literal["voice", "fax"] | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=services.MAX_PAGE)] = services.PAGE_SIZE,
) -> MessagesOut:
    """One page of line n's mailbox: the inbox (new first) or Deleted, voice, fax or both;
    `total` is the length of the whole list (next page: offset + limit while below total)."""
    return services.list_messages(
        portal.store,
        auth,
        line,
        folder=folder,
        kind=kind,
        lang=lang,
        now=portal.now(),
        offset=offset,
        limit=limit,
    )


@api.post(
    "/lines/{n}/messages",
    response_model=DeliveryOut,
    status_code=201,
    openapi_extra={"requestBody": {"content": MULTIPART, "required": True}},
    responses={413: {"description": "audio too large"}, 422: {"description": "bad destination"}},
)
async def send_new_message(
    request: Request, line: ApiLine, auth: ApiAuth, portal: PortalDep, lang: Lang
) -> DeliveryOut:
    """Send a new voice message (multipart: `audio` file in any common format, `to` numbers or
    group phone codes, optional `urgent`, `private`) to mailboxes of this service."""
    form = await _multipart(request)
    audio = await _file(form, "audio", _audio_limit(portal)) or b""
    return await run_in_threadpool(
        sending.new_message,
        portal,
        auth,
        line,
        audio,
        to=_values(form, "to"),
        urgent=_flag(form, "urgent"),
        private=_flag(form, "private"),
        lang=lang,
    )


@api.post("/lines/{n}/messages/delete-all", response_model=BulkOut)
def delete_all_messages(
    line: ApiLine, portal: PortalDep, kind: Literal["voice", "fax"] = "voice"
) -> BulkOut:
    """Move every inbox message of `kind` to Deleted."""
    return BulkOut(count=services.delete_all(portal.store, line, kind, portal.now()))


@api.post("/lines/{n}/messages/purge-all", response_model=BulkOut)
def purge_all_messages(line: ApiLine, portal: PortalDep) -> BulkOut:
    """Delete every message of Deleted for good (frees the mailbox's space)."""
    return BulkOut(count=services.purge_all(portal.store, portal.files, line))


@api.get("/lines/{n}/messages/{message_id:id}", response_model=MessageOut)
def get_message(
    message_id: int, line: ApiLine, auth: ApiAuth, portal: PortalDep, lang: Lang
) -> MessageOut:
    return services.get_message(portal.store, auth, line, message_id, lang, portal.now())


@api.patch("/lines/{n}/messages/{message_id:id}", response_model=MessageOut)
def patch_message(
    message_id: int, body: MessagePatch, line: ApiLine, auth: ApiAuth, portal: PortalDep, lang: Lang
) -> MessageOut:
    """Mark heard/new (`heard`), delete (`folder: deleted`) or restore (`folder: inbox`)."""
    services.update(
        portal.store, line, message_id, heard=body.heard, folder=body.folder, now=portal.now()
    )
    return services.get_message(portal.store, auth, line, message_id, lang, portal.now())


@api.delete("/lines/{n}/messages/{message_id:id}", status_code=204, response_class=Response)
def purge_message(message_id: int, line: ApiLine, portal: PortalDep) -> Response:
    """Delete a message of Deleted for good (409 when it is still in the inbox)."""
    services.purge(portal.store, portal.files, line, message_id)
    return Response(status_code=204)


@api.get("/lines/{n}/messages/{message_id:id}/audio", response_class=Response)
def message_audio(
    message_id: int,
    request: Request,
    line: ApiLine,
    auth: ApiAuth,
    portal: PortalDep,
    download: bool = False,
) -> Response:
    """The voice message as 8 kHz WAV; Range requests are supported (seek)."""
    f = services.audio_file(portal.store, portal.files, auth, line, message_id)
    return file_response(request, f.path, f.media_type, filename=f.filename, download=download)


@api.get("/lines/{n}/messages/{message_id:id}/pdf", response_class=Response)
def message_pdf(
    message_id: int,
    request: Request,
    line: ApiLine,
    auth: ApiAuth,
    portal: PortalDep,
    download: bool = False,
) -> Response:
    """The fax as PDF (shown in the browser's tab, or downloaded with download=true); reading
    it (GET) marks the fax read, as the Faxes tab's "Lire" does."""
    f = services.pdf_file(portal.store, portal.files, auth, line, message_id)
    if request.method == "GET":
        services.update(portal.store, line, message_id, heard=True, folder=None, now=portal.now())
    response = file_response(request, f.path, f.media_type, filename=f.filename, download=download)
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


@api.get("/lines/{n}/messages/{message_id:id}/fax-sends", response_model=FaxSendsOut)
def message_fax_sends(
    message_id: int, line: ApiLine, auth: ApiAuth, portal: PortalDep, lang: Lang
) -> FaxSendsOut:
    """The forwards as fax of this fax, one per destination, newest first: pending or sending
    (attempts so far), sent (pages confirmed, cover page included), failed (with the reason)."""
    return sending.fax_sends(portal, line, message_id, lang)


for _path, _view in (
    ("/lines/{n}/messages/{message_id:id}/audio", message_audio),
    ("/lines/{n}/messages/{message_id:id}/pdf", message_pdf),
):
    api.add_api_route(_path, _view, methods=["HEAD"], include_in_schema=False)


@api.get("/lines/{n}/messages/{message_id:id}/waveform", response_class=Response)
def message_waveform(message_id: int, line: ApiLine, auth: ApiAuth, portal: PortalDep) -> Response:
    """The message's waveform picture (SVG)."""
    svg = services.waveform_svg(portal.store, portal.files, auth, line, message_id)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=86400"},
    )


def _forward_problems(exc: ValidationError) -> Invalid:
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        problems.append(Problem(field, "invalid-value", Msg("This value is not valid.")))
    return Invalid(problems)


@api.post(
    "/lines/{n}/messages/{message_id:id}/forward",
    response_model=DeliveryOut | EmailForwardOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ForwardIn.model_json_schema(by_alias=True)},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "description": "the same fields; `intro` (audio file) is recorded "
                        "before the message when forwarding as voicemail",
                    }
                },
            },
        }
    },
    responses={
        403: {"description": "private-message-not-forwardable"},
        202: {
            "description": "e-mail queued (the mail server is unavailable, it is retried), or "
            "fax sends queued: one per number (FaxSendsOut)"
        },
    },
)
async def forward_message(
    message_id: int,
    request: Request,
    line: ApiLine,
    auth: ApiAuth,
    portal: PortalDep,
    lang: Lang,
) -> Response:
    """Forward a message as e-mail (WAV or PDF attached; To/Cc/Bcc/body), as voicemail (to
    numbers or group phone codes of mailboxes here, optional recorded intro) or as fax."""
    intro: bytes | None = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await _multipart(request)
        intro = await _file(form, "intro", _audio_limit(portal))
        raw: dict[str, Any] = {
            "as": str(form.get("as") or ""),
            "to": _values(form, "to"),
            "cc": _values(form, "cc"),
            "bcc": _values(form, "bcc"),
            "body": str(form.get("body") or ""),
        }
        if form.get("urgent") is not None:
            raw["urgent"] = _flag(form, "urgent")
    else:
        try:
            raw = await request.json()
        except ValueError:
            raise Refused(400, "invalid-json", Msg("The request is not valid JSON.")) from None
    try:
        body = ForwardIn.model_validate(raw)
    except ValidationError as exc:
        raise _forward_problems(exc) from None
    out: DeliveryOut | EmailForwardOut | FaxSendsOut
    if body.as_ == "fax":
        out = await run_in_threadpool(sending.forward_fax, portal, line, message_id, body.to, lang)
        status = 202
    elif body.as_ == "email":
        out = await sending.forward_email(
            portal, auth, line, message_id, to=body.to, cc=body.cc, bcc=body.bcc, body=body.body
        )
        status = 202 if out.status == "queued" else 200
    else:
        out = await run_in_threadpool(
            sending.forward_voicemail,
            portal,
            auth,
            line,
            message_id,
            body.to,
            intro=intro,
            urgent=body.urgent,
            lang=lang,
        )
        status = 201
    return Response(out.model_dump_json(), status_code=status, media_type="application/json")


@api.post(
    "/lines/{n}/messages/{message_id:id}/reply",
    response_model=DeliveryOut,
    status_code=201,
    openapi_extra={"requestBody": {"content": MULTIPART, "required": True}},
)
async def reply_message(
    message_id: int, request: Request, line: ApiLine, auth: ApiAuth, portal: PortalDep, lang: Lang
) -> DeliveryOut:
    """Reply with a recording (multipart `audio`) to the caller's mailbox when the caller is a
    line of this service, and to the other numbers or group phone codes in `to`."""
    form = await _multipart(request)
    audio = await _file(form, "audio", _audio_limit(portal)) or b""
    return await run_in_threadpool(
        sending.reply,
        portal,
        auth,
        line,
        message_id,
        audio,
        to=_values(form, "to"),
        urgent=_flag(form, "urgent"),
        private=_flag(form, "private"),
        lang=lang,
    )


# ------------------------------------------------------------------------------------------------
# API: calls and events


@api.get(
    "/lines/{n}/calls",
    response_model=CallsOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
def list_calls(
    line: ApiLine,
    auth: ApiAuth,
    portal: PortalDep,
    lang: Lang,
    direction: Literal["missed", "received"] = "missed",
    format: Literal["json", "csv"] = "json",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=services.MAX_PAGE)] = services.PAGE_SIZE,
) -> Any:
    """One page of the missed or received calls of line n, newest first, with the total; CSV
    holds the newest calls whole (at most 10,000; cells that a spreadsheet would run as a
    formula are neutralised)."""
    if format == "csv":
        calls = services.list_calls(
            portal.store, auth, line, direction, lang, portal.now(), limit=services.EXPORT_LIMIT
        )
        return Response(
            services.calls_csv(calls, auth.timezone, lang),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{direction}-calls-{line.number}.csv"'
            },
        )
    calls = services.list_calls(
        portal.store, auth, line, direction, lang, portal.now(), offset=offset, limit=limit
    )
    total = services.count_calls(portal.store, line, direction)
    return CallsOut(calls=calls, total=total, offset=offset, limit=limit)


@api.get(
    "/lines/{n}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def line_events(
    request: Request,
    line: ApiLine,
    portal: PortalDep,
    after: Annotated[int | None, Query(ge=0, description="outbox position to start after")] = None,
) -> StreamingResponse:
    """Server-sent events of line n (message.deposited, message.changed, mailbox.counts,
    call.missed, call.received, settings.changed), from the bus and the store."""
    options = live.Options.from_settings(portal.settings)
    last = request.headers.get("last-event-id")
    cursor = live.outbox_cursor(portal.store, last) if after is None or last else after
    stream = live.LineStream(portal.store, line.number, options, cursor)
    return StreamingResponse(
        stream.events(time.monotonic),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# ------------------------------------------------------------------------------------------------
# Pages


TABS = {
    "voice": "/messages",
    "fax": "/messages/faxes",
    "missed": "/messages/missed",
    "received": "/messages/received",
    "deleted": "/messages/deleted",
}
FLASH_BACK = tuple(TABS.values())


def _page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    tab: str,
    *,
    status_code: int = 200,
) -> Response:
    now = portal.now()
    size = services.PAGE_ROWS
    asked = page_number(request.query_params.get("page"))
    messages = None
    calls = None
    fax_number = None
    with portal.store.read() as s:
        counts = services.counts(s, line.number)
        if tab == "fax":
            fax_number = services.fax_number(s, line.number)
    used = Usage(used_seconds=counts.used_seconds, limit_seconds=counts.limit_seconds)
    ctx = frame(request, portal, lang, auth, line, nav="messages", usage_now=used)
    if tab in ("voice", "fax", "deleted"):
        total = {
            "voice": counts.voice_new + counts.voice_old,
            "fax": counts.fax_new + counts.fax_old,
            "deleted": counts.deleted,
        }[tab]
        at = pager(asked, total, size)
        messages = services.list_messages(
            portal.store,
            auth,
            line,
            folder="deleted" if tab == "deleted" else "inbox",
            kind=None if tab == "deleted" else tab,
            lang=lang,
            now=now,
            offset=at["offset"],
            limit=size,
            known=counts,
        )
    else:
        at = pager(asked, services.count_calls(portal.store, line, tab), size)
        calls = services.list_calls(
            portal.store, auth, line, tab, lang, now, offset=at["offset"], limit=size
        )
    ctx.update(
        {
            "tab": tab,
            "tabs": TABS,
            "messages": messages.messages if messages else [],
            "calls": calls or [],
            "counts": counts,
            "fax_number": fax_number,
            "pager": at,
            "max_seconds": portal.settings.mailbox.max_message_seconds,
            "after": live.outbox_cursor(portal.store, None),
        }
    )
    return render(portal, lang, "messages.html", ctx, status_code=status_code)


def _tab_route(tab: str) -> Any:
    def view(
        request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
    ) -> Response:
        return _page(request, portal, lang, auth, line, tab)

    view.__name__ = f"messages_{tab}_page"
    return view


for _tab, _path in TABS.items():
    pages.add_api_route(_path, _tab_route(_tab), methods=["GET"])


def _back(form: FormData, default: str = "/messages") -> str:
    target = safe_next(str(form.get("next") or ""), default)
    return target if target.split("?")[0] in FLASH_BACK else default


def _message_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 12:
        raise Refused(404, "message-not-found", services.MESSAGE_NOT_FOUND)
    return int(raw)


@pages.post("/messages/{message_id:id}/heard")
def heard_submit(message_id: str, form: Form, portal: PortalDep, line: FormLine) -> Response:
    heard = _flag(form, "heard")
    services.update(
        portal.store, line, _message_id(message_id), heard=heard, folder=None, now=portal.now()
    )
    return redirect(_back(form), "marked-heard" if heard else "marked-new")


@pages.post("/messages/{message_id:id}/delete")
def delete_submit(message_id: str, form: Form, portal: PortalDep, line: FormLine) -> Response:
    services.update(
        portal.store, line, _message_id(message_id), heard=None, folder="deleted", now=portal.now()
    )
    return redirect(_back(form), "message-deleted")


@pages.post("/messages/{message_id:id}/restore")
def restore_submit(message_id: str, form: Form, portal: PortalDep, line: FormLine) -> Response:
    services.update(
        portal.store, line, _message_id(message_id), heard=None, folder="inbox", now=portal.now()
    )
    return redirect(_back(form, "/messages/deleted"), "message-restored")


@pages.post("/messages/{message_id:id}/purge")
def purge_submit(message_id: str, form: Form, portal: PortalDep, line: FormLine) -> Response:
    services.purge(portal.store, portal.files, line, _message_id(message_id))
    return redirect("/messages/deleted", "message-purged")


@pages.post("/messages/delete-all")
def delete_all_submit(form: Form, portal: PortalDep, line: FormLine) -> Response:
    kind = "fax" if form.get("kind") == "fax" else "voice"
    services.delete_all(portal.store, line, kind, portal.now())
    return redirect(TABS[kind], "messages-deleted")


@pages.post("/messages/purge-all")
def purge_all_submit(form: Form, portal: PortalDep, line: FormLine) -> Response:
    services.purge_all(portal.store, portal.files, line)
    return redirect("/messages/deleted", "messages-purged")


# Sending without script: the dialogs' forms as pages (recordings need script; a file works).

SEND_KINDS = ("email", "voicemail", "fax", "reply", "new")


def _send_page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    kind: str,
    message: MessageOut | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="messages")
    ctx.update(
        {
            "kind": kind,
            "message": message,
            "values": values or {},
            "errors": errors or {},
            "max_seconds": portal.settings.mailbox.max_message_seconds,
            "fax_sends": (
                sending.fax_sends(portal, line, message.id, lang).sends
                if kind == "fax" and message is not None
                else []
            ),
        }
    )
    return render(portal, lang, "message_send.html", ctx, status_code=status_code)


def _send_message(
    portal: PortalDep, auth: Any, line: Any, kind: str, raw: str, lang: str
) -> MessageOut | None:
    if kind == "new":
        return None
    return services.get_message(portal.store, auth, line, _message_id(raw), lang, portal.now())


@pages.get("/messages/new")
def new_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _send_page(request, portal, lang, auth, line, "new", None)


@pages.get("/messages/{message_id:id}/{kind}")
def send_page(
    message_id: str,
    kind: str,
    request: Request,
    portal: PortalDep,
    lang: Lang,
    auth: PageAuth,
    line: CurrentLine,
) -> Response:
    if kind not in ("email", "voicemail", "fax", "reply"):
        raise Refused(404, "not-found", Msg("This page does not exist."))
    message = _send_message(portal, auth, line, kind, message_id, lang)
    values: dict[str, Any] = {}
    if kind == "reply" and message is not None and message.caller_number:
        values["to"] = message.caller_number
    return _send_page(request, portal, lang, auth, line, kind, message, values=values)


async def _send(
    kind: str,
    message_id: str,
    request: Request,
    form: FormData,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
) -> Response:
    message = _send_message(portal, auth, line, kind, message_id, lang)
    values: dict[str, Any] = {k: str(form.get(k) or "") for k in ("to", "cc", "bcc", "body")}
    urgent, private = _flag(form, "urgent"), _flag(form, "private")
    values.update(urgent=urgent, private=private)
    try:
        audio = await _file(form, "audio", _audio_limit(portal))
        if kind == "email":
            assert message is not None
            await sending.forward_email(
                portal,
                auth,
                line,
                message.id,
                to=_values(form, "to"),
                cc=_values(form, "cc"),
                bcc=_values(form, "bcc"),
                body=values["body"],
            )
        elif kind == "fax":
            assert message is not None
            await run_in_threadpool(
                sending.forward_fax, portal, line, message.id, _values(form, "to"), lang
            )
        elif kind == "voicemail":
            assert message is not None
            await run_in_threadpool(
                sending.forward_voicemail,
                portal,
                auth,
                line,
                message.id,
                _values(form, "to"),
                intro=audio,
                urgent=None,
                lang=lang,
            )
        elif kind == "reply":
            assert message is not None
            await run_in_threadpool(
                sending.reply,
                portal,
                auth,
                line,
                message.id,
                audio or b"",
                to=_values(form, "to"),
                urgent=urgent,
                private=private,
                lang=lang,
            )
        else:
            await run_in_threadpool(
                sending.new_message,
                portal,
                auth,
                line,
                audio or b"",
                to=_values(form, "to"),
                urgent=urgent,
                private=private,
                lang=lang,
            )
    except Invalid as exc:
        errors = {k.split(".")[0]: v for k, v in reversed(list(exc.by_field(lang).items()))}
        return _send_page(
            request,
            portal,
            lang,
            auth,
            line,
            kind,
            message,
            values=values,
            errors=errors,
            status_code=422,
        )
    except Refused as exc:
        if exc.status == 404 and exc.error == "message-not-found":
            raise
        errors = {"form": exc.message.render(lang)}
        return _send_page(
            request,
            portal,
            lang,
            auth,
            line,
            kind,
            message,
            values=values,
            errors=errors,
            status_code=exc.status,
        )
    if kind == "fax" and message is not None:
        return redirect(f"/messages/{message.id}/fax", "fax-queued")
    flash = "forwarded-email" if kind == "email" else "message-sent"
    back = "/messages/faxes" if message is not None and message.kind == "fax" else "/messages"
    return redirect(back, flash)


@pages.post("/messages/new")
async def new_submit(
    request: Request, form: Form, portal: PortalDep, lang: Lang, auth: PageAuth, line: FormLine
) -> Response:
    return await _send("new", "", request, form, portal, lang, auth, line)


@pages.post("/messages/{message_id:id}/{kind}")
async def send_submit(
    message_id: str,
    kind: str,
    request: Request,
    form: Form,
    portal: PortalDep,
    lang: Lang,
    auth: PageAuth,
    line: FormLine,
) -> Response:
    if kind not in ("email", "voicemail", "fax", "reply"):
        raise Refused(404, "not-found", Msg("This page does not exist."))
    return await _send(kind, message_id, request, form, portal, lang, auth, line)
