"""Forward, reply and new voice messages from the portal (SPEC S5, S7, S8, S9): e-mail through
the notifier's mail path (a real aiosmtpd server, the spool, the queue), voicemail into local
mailboxes only (dial plan, groups, intro), private messages never forwarded, faxes forwarded
as faxes (cover page, one send per number, dial plan, results), audio converted by
media.convert, nothing half-applied."""

from __future__ import annotations

import email
import email.policy
import wave
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from events.events import OutdialRequest, OutdialResult, parse_event
from media import convert, faxdoc
from notify import outdial, queue
from notify.outdial import dial_plan
from notify.rules import FAX_RETRY_MINUTES
from routing.model import DialPlan
from store.models import (
    Account,
    Contact,
    ContactGroup,
    GroupMember,
    Mailbox,
    Message,
    NotificationJob,
    OutboxEvent,
)
from store.session import Store
from switch.outdial import Refused as SwitchRefused
from switch.outdial import vet
from tests.support.deposit import deposit, wav_bytes
from tests.support.faxes import document, similarity
from tests.support.portal import (
    A_NUMBER,
    A_SECOND,
    B_NUMBER,
    PortalEnv,
    accounts_db,
    add_accounts,
    bearer,
    build,
    env,
    make_audio,
    sign_in,
    sign_in_page,
)
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer

__all__ = ["accounts_db", "env"]

MESSAGES = f"/api/v1/lines/{A_NUMBER}/messages"


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client())))


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What MediaRecorder sends: Opus in WebM."""
    return make_audio(tmp_path_factory.mktemp("audio") / "recording.webm", "webm", seconds=2.0)


def a_account(store: Store) -> int:
    with store.read() as s:
        return int(s.scalar(select(Account.id).where(Account.display_name == "Jeanne Tremblay")))


def rows(store: Store, line: str) -> list[Message]:
    with store.read() as s:
        return list(
            s.scalars(select(Message).where(Message.line_number == line).order_by(Message.id))
        )


def stored_files(root: Path) -> set[Path]:
    return {p for p in (root / "messages").rglob("*") if p.is_file()}


def seconds_of(data: bytes) -> float:
    with wave.open(BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


def group(store: Store, name: str, code: str, **members: str) -> None:
    with store.transaction() as s:
        g = ContactGroup(account_id=a_account(store), name=name, phone_code=code)
        s.add(g)
        s.flush()
        for first, number in members.items():
            c = Contact(account_id=a_account(store), first_name=first, mobile_phone=number)
            s.add(c)
            s.flush()
            s.add(GroupMember(group_id=g.id, contact_id=c.id))


# ------------------------------------------------------------------------------------------------
# Forward as e-mail


def test_forward_as_email_is_received_by_an_smtp_server_with_the_wav(
    tmp_path: Path, env: PortalEnv
) -> None:
    with SmtpServer() as smtp:
        portal = build(tmp_path, env.store, smtp_url=smtp.url)
        api = portal.client(headers=bearer(sign_in(portal.client())))
        m = deposit(env.store, portal.files, A_NUMBER, data=wav_bytes(1.5), urgent=True)
        r = api.post(
            f"{MESSAGES}/{m.message_id}/forward",
            json={
                "as": "email",
                "to": ["Luc@Example.com"],
                "cc": ["bureau@example.org"],
                "bcc": ["archives@example.net"],
                "body": "Peux-tu rappeler ce client?",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "sent"
        (got,) = smtp.received
    assert sorted(got.rcpt_tos) == [
        "Luc@example.com",  # the domain is lower-cased, the mailbox part kept as typed
        "archives@example.net",
        "bureau@example.org",
    ]
    mail = got.message
    assert mail["To"] == "Luc@example.com" and mail["Cc"] == "bureau@example.org"
    assert mail["Bcc"] is None  # blind copies stay blind
    assert mail["Message-ID"] == r.json()["message_id"]
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_filename().endswith("-6135550142.wav")
    assert attachment.get_content() == m.data
    assert "Peux-tu rappeler ce client?" in mail.get_body(("plain",)).get_content()
    with env.store.read() as s:  # the original stays in the inbox
        assert s.get(Message, m.message_id).folder == "inbox"  # type: ignore[union-attr]


def test_forward_as_email_without_smtp_is_written_to_the_spool(
    env: PortalEnv, api: TestClient
) -> None:
    fax = deposit(env.store, env.files, A_NUMBER, kind="fax")
    r = api.post(
        f"{MESSAGES}/{fax.message_id}/forward", json={"as": "email", "to": ["luc@example.com"]}
    )
    assert r.status_code == 200 and r.json()["status"] == "sent"
    (eml,) = list((env.root / "spool").glob("*.eml"))
    mail = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    (attachment,) = list(mail.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == fax.data


def test_forward_as_email_is_queued_when_the_server_is_down_and_refused_when_it_says_no(
    tmp_path: Path, env: PortalEnv
) -> None:
    down = build(tmp_path, env.store, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    api = down.client(headers=bearer(sign_in(down.client())))
    m = deposit(env.store, down.files, A_NUMBER)
    r = api.post(f"{MESSAGES}/{m.message_id}/forward", json={"as": "email", "to": ["a@b.ca"]})
    assert (r.status_code, r.json()["status"]) == (202, "queued")
    with env.store.read() as s:
        job = s.scalar(select(NotificationJob).where(NotificationJob.message_id == m.message_id))
        assert job is not None and (job.kind, job.state, job.data["to"]) == (
            "mail",
            "pending",
            ["a@b.ca"],
        )
    with SmtpServer() as smtp:
        smtp.refuse["no@example.com"] = 550
        refusing = build(tmp_path, env.store, smtp_url=smtp.url)
        api = refusing.client(headers=bearer(sign_in(refusing.client())))
        r = api.post(
            f"{MESSAGES}/{m.message_id}/forward", json={"as": "email", "to": ["no@example.com"]}
        )
        assert (r.status_code, r.json()["error"]) == (502, "mail-refused")
        assert smtp.received == []


def test_bad_addresses_are_refused_field_by_field(env: PortalEnv, api: TestClient) -> None:
    m = deposit(env.store, env.files, A_NUMBER)
    r = api.post(
        f"{MESSAGES}/{m.message_id}/forward",
        json={"as": "email", "to": ["ok@example.com", "pas une adresse"], "cc": ["x@"]},
    )
    assert r.status_code == 422
    assert [(f["field"], f["error"]) for f in r.json()["fields"]] == [
        ("to.1", "invalid-email"),
        ("cc.0", "invalid-email"),
    ]
    r = api.post(f"{MESSAGES}/{m.message_id}/forward", json={"as": "email", "to": []})
    assert r.json()["fields"][0]["error"] == "required"
    r = api.post(f"{MESSAGES}/{m.message_id}/forward", json={"as": "pigeon", "to": ["a@b.ca"]})
    assert r.status_code == 422
    r = api.post(
        f"{MESSAGES}/{m.message_id}/forward",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid-json")
    assert not (env.root / "spool").exists()


# ------------------------------------------------------------------------------------------------
# Private messages, faxes


def test_private_messages_are_never_forwarded(env: PortalEnv, api: TestClient) -> None:
    m = deposit(env.store, env.files, A_NUMBER, private=True)
    before = rows(env.store, B_NUMBER)
    for body in (
        {"as": "email", "to": ["luc@example.com"]},
        {"as": "voicemail", "to": [B_NUMBER]},
        {"as": "fax", "to": ["6135550199"]},
    ):
        r = api.post(f"{MESSAGES}/{m.message_id}/forward", json=body)
        assert r.status_code == 403, body
        assert r.json()["error"] == "private-message-not-forwardable"
        assert r.json()["detail"] == "Ce message est privé\u202f: il ne peut pas être renvoyé."
    assert not (env.root / "spool").exists()
    assert rows(env.store, B_NUMBER) == before
    # Replying to a private message is allowed.
    assert api.get(f"{MESSAGES}/{m.message_id}").json()["private"] is True


def tiff_fax(env: PortalEnv, pages: int = 2, *, private: bool = False) -> int:
    """A received fax as the switch stores it: a TIFF-F of `pages` pages."""
    m = deposit(env.store, env.files, A_NUMBER, kind="fax", private=private)
    rel = env.files.new_name(f"messages/{A_NUMBER}", ".tif")
    path = env.files.path(rel)
    document(path, pages)
    with env.store.transaction() as s:
        row = s.get(Message, m.message_id)
        assert row is not None
        row.file_path, row.pages = rel, pages
    return m.message_id


def fax_jobs(store: Store) -> list[NotificationJob]:
    with store.read() as s:
        return list(
            s.scalars(
                select(NotificationJob)
                .where(NotificationJob.kind == "fax")
                .order_by(NotificationJob.id)
            )
        )


def attempt(env: PortalEnv, now: datetime) -> list[OutdialRequest]:
    """What the notifier does for due fax jobs: claim them and ask the switch (outbox)."""
    plan = dial_plan(env.settings.dialplan)
    with env.store.transaction() as s:
        for job in queue.claim_due(s, now, 10):
            assert (
                outdial.request(s, job, now=now, plan=plan, ring_seconds=30, result_timeout=600)
                == ""
            )
        events = s.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.topic.like("%/outdial/request"))
            .order_by(OutboxEvent.id)
        ).all()
    return [r for e in events if isinstance(r := parse_event(dict(e)), OutdialRequest)]


def settle(env: PortalEnv, request: OutdialRequest, result: str, **kw: Any) -> None:
    event = OutdialResult(
        line=request.line, job_id=request.job_id, attempt=request.attempt, result=result, **kw
    )
    with env.store.transaction() as s:
        assert outdial.on_result(s, event, event.at)


def test_forward_as_fax_sends_to_each_number_with_a_cover_page_and_reports_each_result(
    env: PortalEnv, api: TestClient
) -> None:
    fax_id = tiff_fax(env, 2)
    r = api.post(
        f"{MESSAGES}/{fax_id}/forward",
        json={"as": "fax", "to": ["613 555 0199", "(819) 555-0123", "6135550199"]},
    )
    assert r.status_code == 202, r.text
    sends = r.json()["sends"]
    assert [(x["number"], x["state"], x["attempts"], x["pages"]) for x in sends] == [
        ("6135550199", "pending", 0, 0),
        ("8195550123", "pending", 0, 0),
    ]
    jobs = fax_jobs(env.store)
    assert [j.id for j in jobs] == [x["job_id"] for x in sends]
    document_path = env.files.path(jobs[0].data["document"])
    assert {j.data["document"] for j in jobs} == {jobs[0].data["document"]}
    assert jobs[0].data["pages"] == 3 and jobs[0].message_id == fax_id
    # The cover page first (the line's name and number), then the fax's two pages.
    sent = faxdoc.page_images(document_path)
    assert len(sent) == 3
    cover = faxdoc.cover_page(line_name="Jeanne Tremblay", line_number=A_NUMBER, pages=2, lang="fr")
    assert similarity(sent[0], cover) > 0.99
    with env.store.read() as s:
        original = env.files.path(s.get(Message, fax_id).file_path)  # type: ignore[union-attr]
    assert [
        similarity(a, b) > 0.99 for a, b in zip(sent[1:], faxdoc.page_images(original), strict=True)
    ] == [
        True,
        True,
    ]

    # The notifier asks the switch for one fax call per number (mode fax) ...
    now = datetime.now(UTC)
    first = attempt(env, now)
    assert [(q.number, q.mode, q.attempt) for q in first] == [
        ("6135550199", "fax", 1),
        ("8195550123", "fax", 1),
    ]
    # ... the first goes through (3 pages), the second is busy and tried again later.
    settle(env, first[0], "answered", pages=3)
    settle(env, first[1], "busy")
    again = attempt(env, now + timedelta(minutes=FAX_RETRY_MINUTES, seconds=1))[2:]
    assert [(q.number, q.attempt) for q in again] == [("8195550123", 2)]
    settle(
        env,
        again[0],
        "failed",
        detail="fax failed: Timed out waiting for initial communication (0 page(s) sent)",
    )
    # Each result is said in the reader's language, the switch's own words kept beside it.
    pending = {x["number"]: x for x in api.get(f"{MESSAGES}/{fax_id}/fax-sends").json()["sends"]}
    assert pending["8195550123"]["reason"] == (
        "Le télécopieur qui a répondu n'a pas reçu toute la télécopie. Un autre essai suivra."
    )
    assert pending["8195550123"]["error"].startswith("fax failed: Timed out")
    third = attempt(env, now + timedelta(minutes=2 * FAX_RETRY_MINUTES, seconds=2))[3:]
    settle(env, third[0], "no-answer")

    r = api.get(f"{MESSAGES}/{fax_id}/fax-sends")
    assert r.status_code == 200
    results = {x["number"]: x for x in r.json()["sends"]}
    assert (results["6135550199"]["state"], results["6135550199"]["pages"]) == ("sent", 3)
    assert results["6135550199"]["error"] == ""
    failed = results["8195550123"]
    assert (failed["state"], failed["attempts"], failed["pages"]) == ("failed", 3, 0)
    assert failed["error"] == "no-answer; 3 attempt(s) made"
    assert (failed["reason"], results["6135550199"]["reason"]) == ("Personne n'a répondu.", "")

    # The portal shows each destination's result on the fax's "forward as fax" page.
    c = env.client()
    sign_in_page(c)
    page = c.get(f"/messages/{fax_id}/fax", headers={"Accept-Language": "en"}).text
    assert 'data-testid="fax-sends"' in page
    assert '<tr data-state="sent"><td>(613) 555-0199</td><td>Sent</td><td>3</td>' in page
    assert (
        '<tr data-state="failed"><td>(819) 555-0123</td><td>Failed</td><td></td><td>3</td>'
        '<td>Nobody answered.<br><small class="muted" data-testid="fax-send-detail">'
        "no-answer; 3 attempt(s) made</small></td>" in page
    )


def test_forward_as_fax_from_the_page_redirects_to_the_results(env: PortalEnv) -> None:
    fax_id = tiff_fax(env, 1)
    c = env.client()
    csrf = sign_in_page(c)
    r = c.post(
        f"/messages/{fax_id}/fax",
        data={"csrf_token": csrf, "line": A_NUMBER, "to": "613 555 0199"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/messages/{fax_id}/fax")
    page = c.get(r.headers["location"]).text
    assert "La télécopie est en cours d&#39;envoi" in page
    assert '<tr data-state="pending"><td>(613) 555-0199</td><td>En attente</td>' in page


def test_forward_as_fax_refused_by_the_dial_plan_queues_nothing(
    env: PortalEnv, api: TestClient
) -> None:
    fax_id = tiff_fax(env, 1)
    before = set((env.root).rglob("*"))
    for number in ("900 555 0100", "911", "011 33 1 23 45 67 89", "876 555 0100", "pas un numéro"):
        r = api.post(
            f"{MESSAGES}/{fax_id}/forward",
            json={"as": "fax", "to": ["6135550199", number]},
            headers={"Accept-Language": "en"},
        )
        assert r.status_code == 422, number
        fields = r.json()["fields"]
        assert [f["field"] for f in fields] == ["to.1"], number
        assert fields[0]["error"] in ("destination-refused", "invalid-number"), number
    r = api.post(f"{MESSAGES}/{fax_id}/forward", json={"as": "fax", "to": []})
    assert (r.status_code, r.json()["fields"][0]["error"]) == (422, "required")
    r = api.post(f"{MESSAGES}/{fax_id}/forward", json={"as": "fax", "to": ["6135550199"] * 11})
    assert (r.status_code, r.json()["fields"][0]["error"]) == (422, "too-many")
    assert fax_jobs(env.store) == []
    assert set((env.root).rglob("*")) == before  # no document written either
    voice = deposit(env.store, env.files, A_NUMBER)
    r = api.post(
        f"{MESSAGES}/{voice.message_id}/forward",
        json={"as": "fax", "to": ["6135550199"]},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert r.json() == {
        "error": "not-a-fax",
        "detail": "Only a fax can be forwarded as a fax: forward it as e-mail.",
    }
    r = api.post(f"{MESSAGES}/{fax_id}/forward", json={"as": "voicemail", "to": [B_NUMBER]})
    assert (r.status_code, r.json()["error"]) == (422, "not-a-voice-message")


def test_the_switch_refuses_a_fax_job_whose_number_the_dial_plan_refuses(
    env: PortalEnv, api: TestClient
) -> None:
    """The switch checks the job again before dialing: a dial plan tightened after the forward
    was queued fails the attempt without a call."""
    fax_id = tiff_fax(env, 1)
    r = api.post(f"{MESSAGES}/{fax_id}/forward", json={"as": "fax", "to": ["6135550199"]})
    assert r.status_code == 202
    [request] = attempt(env, datetime.now(UTC))
    tighter = DialPlan(blocked_area_codes=frozenset({"613"}))
    with env.store.read() as s:
        with pytest.raises(SwitchRefused) as refused:
            vet(s, request, tighter)
        assert refused.value.job_known and "dial plan" in refused.value.reason
        assert (
            vet(s, request, dial_plan(env.settings.dialplan))
            == fax_jobs(env.store)[0].data["document"]
        )
        forged = parse_event({**request.payload(), "mode": "notify"})
        assert isinstance(forged, OutdialRequest)
        with pytest.raises(SwitchRefused):
            vet(s, forged, dial_plan(env.settings.dialplan))


def test_the_notifier_fails_a_fax_job_the_dial_plan_now_refuses(
    env: PortalEnv, api: TestClient
) -> None:
    """A number refused by the dial plan when the attempt is due is never requested: the
    destination fails with the reason, shown per destination."""
    fax_id = tiff_fax(env, 1)
    r = api.post(f"{MESSAGES}/{fax_id}/forward", json={"as": "fax", "to": ["613 555 0199"]})
    assert r.status_code == 202
    tighter = DialPlan(blocked_area_codes=frozenset({"613"}))
    now = datetime.now(UTC)
    with env.store.transaction() as s:
        [job] = queue.claim_due(s, now, 10)
        why = outdial.request(s, job, now=now, plan=tighter, ring_seconds=30, result_timeout=600)
    assert why.startswith("refused by the dial plan: ")
    [send] = api.get(f"{MESSAGES}/{fax_id}/fax-sends").json()["sends"]
    assert (send["state"], send["attempts"], send["error"]) == ("failed", 1, why)
    with env.store.read() as s:
        assert (
            s.scalars(select(OutboxEvent).where(OutboxEvent.topic.like("%/outdial/request"))).all()
            == []
        )


# ------------------------------------------------------------------------------------------------
# Forward as voicemail


def test_forward_as_voicemail_to_a_number_and_a_group_with_an_intro(
    env: PortalEnv, api: TestClient, webm: bytes
) -> None:
    group(env.store, "Équipe", "42", Marc=B_NUMBER, Paul="416 555 0100", Moi=A_NUMBER)
    original = wav_bytes(1.0)
    m = deposit(env.store, env.files, A_NUMBER, data=original, urgent=True)
    with env.store.read() as s:
        before = int(s.scalar(select(func.max(OutboxEvent.id))) or 0)
    r = api.post(
        f"{MESSAGES}/{m.message_id}/forward",
        data={"as": "voicemail", "to": f"{A_SECOND}, 42"},
        files={"intro": ("intro.webm", webm, "audio/webm")},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert sorted(d["number"] for d in body["delivered"]) == [A_SECOND, B_NUMBER]
    # Paul has no mailbox here; the sender's own mailbox does not get its group's copy.
    assert [(s["number"], s["error"]) for s in body["skipped"]] == [("Paul", "no-mailbox")]
    (copy,) = rows(env.store, B_NUMBER)
    assert (copy.origin, copy.original_message_id, copy.urgent, copy.private) == (
        "forwarded",
        m.message_id,
        True,
        False,
    )
    assert (copy.caller_number, copy.caller_name) == (A_NUMBER, "Jeanne Tremblay")
    data = env.files.read(copy.file_path)
    assert convert.wav_format(data) == (8000, 1, 16)
    assert 2.9 <= seconds_of(data) <= 3.6  # ~2 s of intro, a pause, then the 1 s message
    assert data.endswith(original[-2000:])  # the original comes last, unchanged
    assert copy.duration_seconds == pytest.approx(seconds_of(data), abs=0.01)
    with env.store.read() as s:
        new = s.scalars(select(OutboxEvent).where(OutboxEvent.id > before)).all()
    deposited = [e.payload for e in new if e.topic == f"relais/{B_NUMBER}/message/deposited"]
    assert deposited[0]["origin"] == "forwarded" and deposited[0]["message_id"] == copy.id
    assert any(e.topic == f"relais/{B_NUMBER}/mailbox/counts" for e in new)
    assert any(e.topic == f"relais/{A_SECOND}/message/deposited" for e in new)
    # The group code alone works too, without an intro (the message as it is).
    r = api.post(f"{MESSAGES}/{m.message_id}/forward", json={"as": "voicemail", "to": ["42"]})
    assert r.status_code == 201
    latest = rows(env.store, B_NUMBER)[-1]
    assert env.files.read(latest.file_path) == original


def test_destinations_must_pass_the_dial_plan_and_have_a_mailbox(
    env: PortalEnv, api: TestClient
) -> None:
    group(env.store, "Dehors", "7", Paul="416 555 0100")
    m = deposit(env.store, env.files, A_NUMBER)
    files_before = stored_files(env.root)
    cases = {
        "900 555 0100": "destination-refused",  # premium rate
        "911": "destination-refused",
        "416 555 0100": "not-a-mailbox",  # a fine number, but not a mailbox here
        "n'importe quoi": "invalid-number",
        "7": "group-without-mailbox",
    }
    for number, error in cases.items():
        r = api.post(
            f"{MESSAGES}/{m.message_id}/forward",
            json={"as": "voicemail", "to": [B_NUMBER, number]},
        )
        assert r.status_code == 422, number
        assert [(f["field"], f["error"]) for f in r.json()["fields"]] == [("to.1", error)], number
    assert rows(env.store, B_NUMBER) == []  # nothing half-delivered
    assert stored_files(env.root) == files_before
    r = api.post(f"{MESSAGES}/{m.message_id}/forward", json={"as": "voicemail", "to": []})
    assert r.json()["fields"][0]["error"] == "required"


def test_a_full_mailbox_refuses_the_whole_forward(env: PortalEnv, api: TestClient) -> None:
    with env.store.transaction() as s:
        s.get(Mailbox, A_SECOND).quota_seconds = 10  # type: ignore[union-attr]
    deposit(env.store, env.files, A_SECOND, duration=10)
    m = deposit(env.store, env.files, A_NUMBER)
    r = api.post(
        f"{MESSAGES}/{m.message_id}/forward",
        json={"as": "voicemail", "to": [B_NUMBER, A_SECOND]},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert r.json()["fields"] == [
        {
            "field": "to.1",
            "error": "mailbox-full",
            "detail": "The mailbox of (613) 555-0101 is full.",
        }
    ]
    assert rows(env.store, B_NUMBER) == []


# ------------------------------------------------------------------------------------------------
# Reply and new voice messages


def test_reply_goes_to_the_callers_mailbox_when_it_is_local(
    env: PortalEnv, api: TestClient, webm: bytes
) -> None:
    m = deposit(env.store, env.files, A_NUMBER, caller_number="1" + B_NUMBER, private=True)
    r = api.post(
        f"{MESSAGES}/{m.message_id}/reply",
        data={"urgent": "on", "private": "on"},
        files={"audio": ("reply.webm", webm, "audio/webm")},
    )
    assert r.status_code == 201, r.text
    assert [d["number"] for d in r.json()["delivered"]] == [B_NUMBER]
    (reply,) = rows(env.store, B_NUMBER)
    assert (reply.origin, reply.original_message_id, reply.urgent, reply.private) == (
        "reply",
        m.message_id,
        True,
        True,
    )
    assert 1.7 <= reply.duration_seconds <= 2.3
    # Not local and nobody else: a clear refusal; with another destination: delivered there.
    outside = deposit(env.store, env.files, A_NUMBER, caller_number="4165550100")
    r = api.post(
        f"{MESSAGES}/{outside.message_id}/reply", files={"audio": ("r.webm", webm, "audio/webm")}
    )
    assert (r.status_code, r.json()["error"]) == (422, "caller-not-local")
    anonymous = deposit(env.store, env.files, A_NUMBER, caller_number=None)
    r = api.post(
        f"{MESSAGES}/{anonymous.message_id}/reply", files={"audio": ("r.webm", webm, "audio/webm")}
    )
    assert r.json()["detail"] == "L'appelant est anonyme\u202f: il n'y a personne à qui répondre."
    r = api.post(
        f"{MESSAGES}/{outside.message_id}/reply",
        data={"to": A_SECOND},
        files={"audio": ("r.webm", webm, "audio/webm")},
    )
    assert [d["number"] for d in r.json()["delivered"]] == [A_SECOND]
    r = api.post(f"{MESSAGES}/{m.message_id}/reply", data={"to": ""})
    assert (r.status_code, r.json()["error"]) == (422, "audio-empty")


def test_new_voice_message_to_numbers_and_groups(
    env: PortalEnv, api: TestClient, webm: bytes
) -> None:
    group(env.store, "Équipe", "42", Marc=B_NUMBER)
    r = api.post(
        MESSAGES,
        data={"to": [f"({A_SECOND[:3]}) {A_SECOND[3:6]}-{A_SECOND[6:]}", "42"], "urgent": "true"},
        files={"audio": ("new.webm", webm, "audio/webm")},
    )
    assert r.status_code == 201, r.text
    assert sorted(d["number"] for d in r.json()["delivered"]) == [A_SECOND, B_NUMBER]
    (sent,) = rows(env.store, B_NUMBER)
    assert (sent.origin, sent.urgent, sent.private, sent.original_message_id) == (
        "portal",
        True,
        False,
        None,
    )
    assert sent.caller_number == A_NUMBER
    r = api.post(MESSAGES, data={"to": B_NUMBER}, files={"audio": ("x.bin", b"\x00" * 400, "x/y")})
    assert (r.status_code, r.json()["error"]) == (415, "unsupported-audio")
    r = api.post(
        MESSAGES, data={"to": "4165550100"}, files={"audio": ("n.webm", webm, "audio/webm")}
    )
    assert r.json()["fields"][0]["error"] == "not-a-mailbox"
    assert len(rows(env.store, B_NUMBER)) == 1


def test_audio_over_the_size_limit_is_refused(tmp_path: Path, env: PortalEnv, webm: bytes) -> None:
    small = build(tmp_path, env.store, portal_security={"greeting_max_bytes": len(webm) - 1})
    api = small.client(headers=bearer(sign_in(small.client())))
    r = api.post(MESSAGES, data={"to": B_NUMBER}, files={"audio": ("n.webm", webm, "audio/webm")})
    assert (r.status_code, r.json()["error"]) == (413, "file-too-large")
    m = deposit(env.store, small.files, A_NUMBER)
    r = api.post(
        f"{MESSAGES}/{m.message_id}/forward",
        data={"as": "voicemail", "to": B_NUMBER},
        files={"intro": ("i.webm", webm, "audio/webm")},
    )
    assert r.status_code == 413
    assert rows(env.store, B_NUMBER) == []


# ------------------------------------------------------------------------------------------------
# The same without script: the dialogs' forms as pages


def test_send_pages_work_without_script(env: PortalEnv, webm: bytes) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    m = deposit(env.store, env.files, A_NUMBER, caller_number=B_NUMBER)
    page = c.get(f"/messages/{m.message_id}/reply").text
    assert f'value="{B_NUMBER}"' in page and "Répondre au message vocal" in page
    common: dict[str, Any] = {"csrf_token": csrf, "line": A_NUMBER}
    r = c.post(
        f"/messages/{m.message_id}/reply",
        data=common,
        files={"audio": ("r.webm", webm, "audio/webm")},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/messages")
    assert rows(env.store, B_NUMBER)[0].origin == "reply"
    r = c.post(
        f"/messages/{m.message_id}/email",
        data={**common, "to": "luc@example.com, bureau@example.org", "body": "Pour info"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Le message est envoyé par courriel." in c.get("/messages").text
    r = c.post(f"/messages/{m.message_id}/voicemail", data={**common, "to": "900 555 0100"})
    assert r.status_code == 422
    assert "premium" in r.text or "900" in r.text
    r = c.post("/messages/new", data={**common, "to": B_NUMBER})
    assert r.status_code == 422 and "Enregistrez d&#39;abord votre message." in r.text
    r = c.post(
        "/messages/new",
        data={**common, "to": B_NUMBER},
        files={"audio": ("n.webm", webm, "audio/webm")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [x.origin for x in rows(env.store, B_NUMBER)] == ["reply", "portal"]
    private = deposit(env.store, env.files, A_NUMBER, private=True)
    r = c.post(f"/messages/{private.message_id}/email", data={**common, "to": "luc@example.com"})
    assert r.status_code == 403 and "Ce message est privé" in r.text


def test_a_request_body_larger_than_any_upload_is_refused_before_it_is_read(
    env: PortalEnv, api: TestClient
) -> None:
    limit = env.settings.portal_security.greeting_max_bytes + 1024 * 1024
    r = api.post(
        MESSAGES,
        content=b"x" * 16,
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(limit + 1),
        },
    )
    assert (r.status_code, r.json()["error"]) == (413, "file-too-large")
    assert rows(env.store, B_NUMBER) == []


def test_deliveries_on_each_backend(tmp_path: Path, store: Store, webm: bytes) -> None:
    add_accounts(store)
    portal = build(tmp_path, store)
    api = portal.client(headers=bearer(sign_in(portal.client())))
    m = deposit(store, portal.files, A_NUMBER, data=wav_bytes(1.0))
    r = api.post(
        f"{MESSAGES}/{m.message_id}/forward", json={"as": "voicemail", "to": [B_NUMBER, A_SECOND]}
    )
    assert r.status_code == 201, r.text
    r = api.post(MESSAGES, data={"to": B_NUMBER}, files={"audio": ("n.webm", webm, "audio/webm")})
    assert r.status_code == 201, r.text
    assert [x.origin for x in rows(store, B_NUMBER)] == ["forwarded", "portal"]
    with store.read() as s:
        topics = s.scalars(
            select(OutboxEvent.topic).where(OutboxEvent.topic.like(f"relais/{B_NUMBER}/%"))
        ).all()
    assert topics.count(f"relais/{B_NUMBER}/message/deposited") == 2
    assert topics.count(f"relais/{B_NUMBER}/mailbox/counts") == 2
    counts = api.get(f"/api/v1/lines/{A_SECOND}/messages").json()["counts"]
    assert counts["voice_new"] == 1
