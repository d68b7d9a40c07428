"""The Contacts page (contact list, new contact, new group, edit, delete, import, export) and
the contacts and groups API (SPEC S8, S10, S14)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.responses import Response

from portal.contacts import services
from portal.contacts.csvformats import FIELDS
from portal.contacts.schemas import (
    ContactIn,
    ContactOut,
    ContactsOut,
    GroupIn,
    GroupOut,
    GroupsOut,
    ImportReport,
)
from portal.deps import ApiAuth, CurrentLine, Lang, PageAuth, PortalDep
from portal.deps import Form as PageForm
from portal.errors import Invalid, Refused
from portal.i18n import Msg
from portal.pages import frame, page_number, pager, redirect, render, safe_next

api = APIRouter(tags=["contacts"])
pages = APIRouter(include_in_schema=False)


async def read_upload(upload: StarletteUpload, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Refused(
            413,
            "file-too-large",
            Msg("The file is too large (at most %(mb)s MB).", mb=max(1, max_bytes // 1_000_000)),
        )
    return data


def download(data: bytes, name: str, media: str) -> Response:
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


# ------------------------------------------------------------------------------------------------
# API: contacts


@api.get("/contacts/export", response_class=Response)
def export_contacts(
    auth: ApiAuth,
    portal: PortalDep,
    format: Annotated[str, Query(description="outlook | vista | native | vcard")] = "native",
) -> Response:
    """Every contact as an Outlook, Windows Contacts (Vista) or native CSV file, or vCard.
    Cells starting with = + - @ are neutralised; groups are never exported."""
    return download(*services.export_file(portal.store, auth.account_id, format))


@api.post(
    "/contacts/import",
    response_model=ImportReport,
    responses={
        413: {"description": "file too large (portal_security.csv_max_bytes)"},
        422: {"description": "not a contact file; nothing was imported"},
    },
)
async def import_contacts(
    auth: ApiAuth,
    portal: PortalDep,
    lang: Lang,
    file: Annotated[UploadFile, File(description="Outlook, Windows Contacts or native CSV")],
    on_conflict: Annotated[str, Form(description="overwrite | duplicate | ignore")] = "ignore",
) -> ImportReport:
    """Import a contact file in one transaction: each row is created, merged (missing details
    added), overwritten, duplicated or ignored (SPEC S10); bad rows are listed with their line."""
    action = services.parse_on_conflict(on_conflict)
    max_bytes = portal.settings.portal_security.csv_max_bytes
    data = await read_upload(file, max_bytes)
    result = await run_in_threadpool(
        services.import_file,
        portal.store,
        auth.account_id,
        data,
        action,
        max_bytes=max_bytes,
        max_contacts=portal.settings.portal_security.max_contacts_per_account,
    )
    return result.report(lang)


@api.get("/contacts", response_model=ContactsOut)
def list_contacts(
    auth: ApiAuth,
    portal: PortalDep,
    q: Annotated[str | None, Query(max_length=80, description="first letters of a name")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=services.MAX_PAGE)] = services.MAX_PAGE,
) -> ContactsOut:
    """One page of the account's contacts by last name (those whose name starts with `q` when
    given); `total` is the length of the whole list (next page: offset + limit)."""
    contacts, total = services.page_contacts(
        portal.store, auth.account_id, q, offset=offset, limit=limit
    )
    return ContactsOut(contacts=contacts, total=total, offset=offset, limit=limit)


@api.post("/contacts", response_model=ContactOut, status_code=201)
def create_contact(body: ContactIn, auth: ApiAuth, portal: PortalDep) -> ContactOut:
    """Add a contact (409 contact-limit-reached at portal_security.max_contacts_per_account)."""
    return services.create_contact(
        portal.store,
        auth.account_id,
        body,
        max_contacts=portal.settings.portal_security.max_contacts_per_account,
    )


@api.get("/contacts/{contact_id:id}", response_model=ContactOut)
def get_contact(contact_id: int, auth: ApiAuth, portal: PortalDep) -> ContactOut:
    return services.get_contact(portal.store, auth.account_id, contact_id)


@api.put("/contacts/{contact_id:id}", response_model=ContactOut)
def put_contact(contact_id: int, body: ContactIn, auth: ApiAuth, portal: PortalDep) -> ContactOut:
    """Replace a contact's details (its id and groups stay)."""
    return services.update_contact(portal.store, auth.account_id, contact_id, body)


@api.delete("/contacts/{contact_id:id}", status_code=204, response_class=Response)
def delete_contact(contact_id: int, auth: ApiAuth, portal: PortalDep) -> Response:
    services.delete_contacts(portal.store, auth.account_id, [contact_id])
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------
# API: groups


@api.get("/groups", response_model=GroupsOut)
def list_groups(
    auth: ApiAuth,
    portal: PortalDep,
    q: Annotated[str | None, Query(max_length=80)] = None,
) -> GroupsOut:
    return GroupsOut(groups=services.list_groups(portal.store, auth.account_id, q))


@api.post("/groups", response_model=GroupOut, status_code=201)
def create_group(body: GroupIn, auth: ApiAuth, portal: PortalDep) -> GroupOut:
    """A group of contacts; its phone code (unique in the account) sends a message to all."""
    return services.create_group(portal.store, auth.account_id, body)


@api.get("/groups/{group_id:id}", response_model=GroupOut)
def get_group(group_id: int, auth: ApiAuth, portal: PortalDep) -> GroupOut:
    return services.get_group(portal.store, auth.account_id, group_id)


@api.put("/groups/{group_id:id}", response_model=GroupOut)
def put_group(group_id: int, body: GroupIn, auth: ApiAuth, portal: PortalDep) -> GroupOut:
    return services.update_group(portal.store, auth.account_id, group_id, body)


@api.delete("/groups/{group_id:id}", status_code=204, response_class=Response)
def delete_group(group_id: int, auth: ApiAuth, portal: PortalDep) -> Response:
    services.delete_groups(portal.store, auth.account_id, [group_id])
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------
# Pages


def _selection(values: list[Any]) -> tuple[list[int], list[int]]:
    """Checked rows: "c-12" (contact 12) and "g-3" (group 3)."""
    contacts: list[int] = []
    groups: list[int] = []
    for v in values:
        kind, _sep, num = str(v).partition("-")
        if not num.isdigit() or len(num) > 12:
            continue
        (contacts if kind == "c" else groups if kind == "g" else []).append(int(num))
    return list(dict.fromkeys(contacts)), list(dict.fromkeys(groups))


def _page(
    request: Request,
    portal: PortalDep,
    lang: str,
    auth: Any,
    line: Any,
    *,
    editor: dict[str, Any] | None = None,
    mode: str = "",
    report: ImportReport | None = None,
    notice: str | None = None,
    confirm: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = frame(request, portal, lang, auth, line, nav="contacts")
    q = request.query_params.get("q", "")[:80]
    size = services.PAGE_ROWS
    with portal.store.read() as s:
        every = services.count_contacts(s, auth.account_id)
    matching = every
    if q.strip():
        matching = services.page_contacts(portal.store, auth.account_id, q, offset=0, limit=0)[1]
    at = pager(page_number(request.query_params.get("page")), matching, size)
    contacts, _ = services.page_contacts(
        portal.store, auth.account_id, q, offset=at["offset"], limit=size
    )
    groups = services.list_groups(portal.store, auth.account_id)
    # The group editor lists every contact to pick from: only when it is open, or when the
    # whole list fits on one page (then it opens without a reload).
    picker = every <= size or (editor is not None and editor.get("kind") == "group")
    choices = services.list_contacts(portal.store, auth.account_id) if picker else []
    names = services.contact_names(
        portal.store, auth.account_id, [m for g in groups for m in g.members[:6]]
    )
    ctx.update(
        {
            "contacts": contacts,
            "choices": choices,
            "picker": picker,
            "every": every,
            "pager": at,
            "groups": groups,
            "names": names,
            "words": {c.id: services.contact_words(c) for c in [*contacts, *choices]},
            "group_words": {g.id: services.search_words(g.name) for g in groups},
            "q": q,
            "shown_contacts": {c.id for c in contacts},
            "shown_groups": {
                g.id for g in groups if not q or services.matches(q, services.search_words(g.name))
            },
            "editor": editor,
            "mode": mode,
            "report": report,
            "notice": notice,
            "confirm": confirm,
            "max_mb": max(1, portal.settings.portal_security.csv_max_bytes // 1_000_000),
        }
    )
    return render(portal, lang, "contacts.html", ctx, status_code=status_code)


def _contact_editor(
    values: dict[str, str], cid: int | None, errors: dict[str, str]
) -> dict[str, Any]:
    return {"kind": "contact", "id": cid, "data": values, "errors": errors}


def _group_editor(
    name: str, code: str, members: list[int], gid: int | None, errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "kind": "group",
        "id": gid,
        "data": {"name": name, "phone_code": code},
        "members": members,
        "errors": errors,
    }


@pages.get("/contacts")
def contacts_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    params = request.query_params
    editor: dict[str, Any] | None = None
    notice: str | None = None
    new = params.get("new")
    if new == "contact":
        prefill = {f: params.get(f, "")[:200] for f in FIELDS if params.get(f)}
        editor = _contact_editor(prefill, None, {})
    elif new == "group":
        editor = _group_editor("", "", [], None, {})
    elif params.get("action") == "edit":
        cids, gids = _selection(params.getlist("sel"))
        if len(cids) + len(gids) != 1:
            notice = Msg("Select one contact or one group to modify.").render(lang)
        elif cids:
            c = services.get_contact(portal.store, auth.account_id, cids[0])
            editor = _contact_editor({f: getattr(c, f) for f in FIELDS}, c.id, {})
        else:
            g = services.get_group(portal.store, auth.account_id, gids[0])
            editor = _group_editor(g.name, g.phone_code, g.members, g.id, {})
    return _page(request, portal, lang, auth, line, editor=editor, notice=notice)


def _int_or_none(raw: Any) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) <= 12 else None


@pages.post("/contacts/contact")
def contact_submit(
    request: Request,
    form: PageForm,
    portal: PortalDep,
    lang: Lang,
    auth: PageAuth,
    line: CurrentLine,
) -> Response:
    values = {f: str(form.get(f) or "") for f in FIELDS}
    cid = _int_or_none(form.get("id"))
    data = ContactIn(**{f: v[:400] if f != "notes" else v[:20000] for f, v in values.items()})
    try:
        if cid is None:
            services.create_contact(
                portal.store,
                auth.account_id,
                data,
                max_contacts=portal.settings.portal_security.max_contacts_per_account,
            )
        else:
            services.update_contact(portal.store, auth.account_id, cid, data)
    except Invalid as exc:
        editor = _contact_editor(values, cid, exc.by_field(lang))
        return _page(request, portal, lang, auth, line, editor=editor, status_code=422)
    except Refused as exc:
        editor = _contact_editor(values, cid, {})
        notice = exc.message.render(lang)
        return _page(
            request, portal, lang, auth, line, editor=editor, notice=notice, status_code=exc.status
        )
    back = safe_next(str(form.get("next") or ""), "/contacts")
    return redirect(back if back.startswith("/messages") else "/contacts", "contact-saved")


def _members(form: FormData) -> list[int]:
    return [int(v) for v in form.getlist("members") if isinstance(v, str) and v.isdigit()][:10000]


@pages.post("/contacts/group")
def group_submit(
    request: Request,
    form: PageForm,
    portal: PortalDep,
    lang: Lang,
    auth: PageAuth,
    line: CurrentLine,
) -> Response:
    name = str(form.get("name") or "")[:400]
    code = str(form.get("phone_code") or "")[:40]
    members = _members(form)
    gid = _int_or_none(form.get("id"))
    data = GroupIn(name=name, phone_code=code, members=members)
    try:
        if gid is None:
            services.create_group(portal.store, auth.account_id, data)
        else:
            services.update_group(portal.store, auth.account_id, gid, data)
    except Invalid as exc:
        editor = _group_editor(name, code, members, gid, exc.by_field(lang))
        return _page(request, portal, lang, auth, line, editor=editor, status_code=422)
    return redirect("/contacts", "group-saved")


@pages.post("/contacts/delete")
def delete_submit(
    request: Request,
    form: PageForm,
    portal: PortalDep,
    lang: Lang,
    auth: PageAuth,
    line: CurrentLine,
) -> Response:
    """Delete the checked contacts and groups, after a confirmation (a dialog with script)."""
    cids, gids = _selection(form.getlist("sel"))
    if not cids and not gids:
        notice = Msg("Select the contacts or groups to delete.").render(lang)
        return _page(request, portal, lang, auth, line, notice=notice, status_code=422)
    if form.get("confirm") != "1":
        contacts = services.contact_names(portal.store, auth.account_id, cids)
        groups = {g.id: g.name for g in services.list_groups(portal.store, auth.account_id)}
        confirm = {
            "sel": [f"c-{c}" for c in cids if c in contacts]
            + [f"g-{g}" for g in gids if g in groups],
            "names": [contacts[c] for c in cids if c in contacts]
            + [groups[g] for g in gids if g in groups],
        }
        return _page(request, portal, lang, auth, line, confirm=confirm)
    services.delete_selected(portal.store, auth.account_id, cids, gids)
    return redirect("/contacts", "contacts-deleted")


@pages.get("/contacts/import")
def import_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    return _page(request, portal, lang, auth, line, mode="import")


@pages.post("/contacts/import")
async def import_submit(
    request: Request,
    form: PageForm,
    portal: PortalDep,
    lang: Lang,
    auth: PageAuth,
    line: CurrentLine,
) -> Response:
    upload = form.get("file")
    try:
        if not isinstance(upload, StarletteUpload) or not upload.filename:
            raise Refused(422, "no-file", Msg("Choose the file to import first."))
        action = services.parse_on_conflict(str(form.get("on_conflict") or ""))
        max_bytes = portal.settings.portal_security.csv_max_bytes
        data = await read_upload(upload, max_bytes)
        result = await run_in_threadpool(
            services.import_file,
            portal.store,
            auth.account_id,
            data,
            action,
            max_bytes=max_bytes,
            max_contacts=portal.settings.portal_security.max_contacts_per_account,
        )
    except Refused as exc:
        return _page(
            request,
            portal,
            lang,
            auth,
            line,
            mode="import",
            notice=exc.message.render(lang),
            status_code=exc.status,
        )
    return _page(request, portal, lang, auth, line, report=result.report(lang))


@pages.get("/contacts/export")
def export_page(
    request: Request, portal: PortalDep, lang: Lang, auth: PageAuth, line: CurrentLine
) -> Response:
    fmt = request.query_params.get("format")
    if fmt:
        return download(*services.export_file(portal.store, auth.account_id, fmt))
    return _page(request, portal, lang, auth, line, mode="export")
