"""The statements of every call run on the driver's cursor (store.fast), on SQLite and
PostgreSQL: each of them takes that path, and what it reads and writes is exactly what
Connection.execute reads and writes (types included: booleans, time-zone-aware times, JSON)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, MultipleResultsFound, NoResultFound

from events import outbox
from ivr import calllog
from ivr import services as vm
from routing.model import PhoneState, RingEntry, RingTable
from store import fast, repository
from store.models import (
    CallLogEntry,
    EventConsumed,
    Greeting,
    Message,
    NotificationTarget,
    OutboxEvent,
)
from store.session import Store, core
from switch import fax, legs, mwi

A, B = "6135550100", "6135550111"
NOW = datetime(2026, 12, 6, 3, 4, 5, 678901, tzinfo=UTC)

# Every Core statement of a call, with the parameters it runs with.
READS: dict[str, tuple[Any, dict[str, Any]]] = {
    "line settings": (repository._LINE, {"number": A}),
    "ring table": (repository._RING_ENTRIES, {"number": A}),
    "screening": (repository._SCREENING, {"number": A}),
    "mailbox counts": (repository._COUNTS, {"number": A}),
    "fax line": (fax._FAX_LINE, {"number": "8195550199"}),
    "greetings": (vm._GREETINGS, {"line": A}),
    "deposit mailbox": (vm._DEPOSIT_MAILBOX, {"line": A}),
    "device contacts": (legs._CONTACTS, {"line": A}),
    "MWI line": (mwi._LINE, {"line": A}),
    "MWI targets": (mwi._TARGETS, {"line": A}),
    "MWI target": (mwi._TARGET, {"line": A, "address": B}),
}
MESSAGE = {
    "line_number": A,
    "kind": "voice",
    "folder": "inbox",
    "caller_number": "6135559999",
    "caller_name": "Jean",
    "received_at": NOW,
    "duration_seconds": 2.5,
    "size_bytes": 40044,
    "file_path": "messages/x.wav",
    "origin": "call",
    "urgent": True,
    "private": False,
    "call_id": "call-1",
}
CALL = {
    "line_number": A,
    "direction": "missed",
    "caller_number": None,
    "caller_name": "Jean",
    "started_at": NOW,
    "duration_seconds": 3.25,
    "disposition": "voicemail",
    "call_id": "call-2",
    "not_accepted": [B],
}


@pytest.fixture
def filled(store: Store) -> Store:
    """A line with a fax number, a ring table, screening lists, a device, messages, greetings
    and MWI targets: every read of a call finds rows."""
    with store.transaction() as s:
        for number in (A, B):
            repository.create_account(
                s, number=number, name=number, password="motdepasse1", pin="4826", language="fr"
            )
        repository.set_fax_number(s, A, "8195550199")
        settings = repository.line_settings(s, A)
        assert settings is not None
        repository.save_line_settings(
            s,
            dataclasses.replace(
                settings,
                phone_state=PhoneState("dnd"),
                ring_table=RingTable(
                    (
                        RingEntry("0", (20, None, 15), allow_remote_forwarding=True),
                        RingEntry(B, (None, 25, None), confirm_answer=True),
                    )
                ),
                selective_rejection=True,
                reject_list=frozenset({"6135557777"}),
                forward_list=frozenset({"6135558888"}),
            ),
        )
        repository.add_device(
            s,
            number=A,
            username="a-desk",
            password="Sip-secret-1234",
            domain="relais.local",
            contact="sip:a-desk@192.0.2.10:5060",
        )
        s.add(Greeting(line_number=A, kind="personal", file_path="g/a.wav", duration_seconds=3))
        s.add(NotificationTarget(line_number=A, channel="mwi", address=B, types=["voice"]))
        for heard, urgent in ((False, False), (True, True), (False, True)):
            s.add(
                Message(
                    line_number=A,
                    heard=heard,
                    urgent=urgent,
                    duration_seconds=4.5,
                    file_path="messages/m.wav",
                )
            )
    return store


def test_every_statement_of_a_call_runs_on_the_drivers_cursor(store: Store) -> None:
    dialect = store.engine.dialect
    writes = {
        "message": (vm._INSERT_MESSAGE, MESSAGE),
        "call log": (calllog._INSERT, CALL),
        "outbox": (outbox._INSERT, {"event_id": "e", "topic": "t", "payload": {}}),
        "consumed": (outbox._CONSUMED, {"consumer": "c", "event_id": "e", "consumed_at": NOW}),
    }
    slow = [
        name
        for name, (statement, params) in {**READS, **writes}.items()
        if fast._make_plan(statement, dialect, tuple(params)) is None
    ]
    assert slow == []


@pytest.mark.parametrize("name", list(READS))
def test_a_read_gives_what_connection_execute_gives(filled: Store, name: str) -> None:
    statement, params = READS[name]
    with filled.read() as s:
        got = core(s).execute(statement, params).all()
        want = s.connection().execute(statement, params).all()
    assert got, "the read found no row: the comparison would prove nothing"
    assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in want]
    assert [r._asdict() for r in got] == [r._asdict() for r in want]


def columns(row: Any, *skip: str) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in sa.inspect(row).mapper.column_attrs} | {
        k: None for k in skip
    }


def test_an_insert_writes_what_connection_execute_writes(filled: Store) -> None:
    """Python-side defaults of the columns left out (heard, pages, fax_bit_rate) included."""
    with filled.transaction() as s:
        fast_id = core(s).execute(vm._INSERT_MESSAGE, MESSAGE).scalar_one()
        slow_id = s.connection().execute(vm._INSERT_MESSAGE, MESSAGE).scalar_one()
        fast_log = core(s).execute(calllog._INSERT, CALL).scalar_one()
        slow_log = s.connection().execute(calllog._INSERT, CALL).scalar_one()
    assert isinstance(fast_id, int) and fast_id != slow_id
    with filled.read() as s:
        got, want = s.get(Message, fast_id), s.get(Message, slow_id)
        assert got is not None and want is not None
        assert columns(got, "id") == columns(want, "id")
        assert (got.received_at, got.heard, got.urgent, got.pages) == (NOW, False, True, 0)
        log, log_want = s.get(CallLogEntry, fast_log), s.get(CallLogEntry, slow_log)
        assert log is not None and log_want is not None
        assert columns(log, "id") == columns(log_want, "id")
        assert log.not_accepted == [B] and log.started_at == NOW


def test_events_and_their_consumers_in_one_go(filled: Store) -> None:
    """The outbox insert (a created_at left to its default) and a batch of consumed rows."""
    payload = {"line": A, "counts": {"voice_new": 2}, "text": "élan"}
    before = datetime.now(UTC)
    with filled.transaction() as s:
        core(s).execute(outbox._INSERT, {"event_id": "e-1", "topic": "t/1", "payload": payload})
        core(s).execute(
            outbox._CONSUMED,
            [
                {"consumer": name, "event_id": "e-1", "consumed_at": NOW}
                for name in ("switch", "notifier")
            ],
        )
        core(s).execute(outbox._CONSUMED, [])  # nothing to add: nothing done
    with filled.read() as s:
        [event] = s.scalars(select(OutboxEvent).where(OutboxEvent.event_id == "e-1")).all()
        assert (event.topic, event.payload, event.attempts) == ("t/1", payload, 0)
        assert before <= event.created_at <= datetime.now(UTC)
        consumed = s.scalars(select(EventConsumed).order_by(EventConsumed.consumer)).all()
        assert [(c.consumer, c.consumed_at) for c in consumed] == [
            ("notifier", NOW),
            ("switch", NOW),
        ]


def test_a_failed_statement_fails_the_transaction(filled: Store) -> None:
    """The driver's error reaches the caller as SQLAlchemy's (what callers catch), and the
    transaction rolls back whole."""
    with pytest.raises(IntegrityError, match="(?i)unique|duplicate"), filled.transaction() as s:
        core(s).execute(outbox._INSERT, {"event_id": "e-2", "topic": "t", "payload": {}})
        core(s).execute(outbox._INSERT, {"event_id": "e-2", "topic": "t", "payload": {}})
    with filled.read() as s:
        assert s.scalars(select(OutboxEvent).where(OutboxEvent.event_id == "e-2")).all() == []


def test_what_the_cursor_cannot_run_goes_through_connection_execute(filled: Store) -> None:
    """An expanding IN (the ring table's local numbers) is run the usual way, same result."""
    with filled.read() as s:
        rows = core(s).execute(repository._LOCAL_NUMBERS, {"numbers": [A, B, "6135550000"]})
        assert sorted(rows.scalars().all()) == [A, B]
    assert fast._make_plan(repository._LOCAL_NUMBERS, filled.engine.dialect, ("numbers",)) is None


def test_the_result_accessors_say_what_is_wrong(filled: Store) -> None:
    several = select(Message.id).where(Message.line_number == bindparam("line"))
    with filled.read() as s:
        rows = core(s).execute(several, {"line": A})
        assert len(rows.all()) == 3 and rows.first() is not None
        with pytest.raises(MultipleResultsFound):
            rows.one_or_none()
        none = core(s).execute(several, {"line": "0000000000"})
        assert (none.first(), none.one_or_none(), none.scalar()) == (None, None, None)
        with pytest.raises(NoResultFound):
            none.one()
        with pytest.raises(NoResultFound):
            none.scalar_one()


def test_statements_built_on_the_fly_do_not_fill_memory(
    filled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plans are kept for module constants; past MAX_PLANS a statement runs the usual way."""
    monkeypatch.setattr(fast, "_plans", {})
    monkeypatch.setattr(fast, "MAX_PLANS", 3)
    with filled.read() as s:
        for _ in range(10):
            fresh = select(Message.id).where(Message.line_number == bindparam("line"))
            assert len(core(s).execute(fresh, {"line": A}).all()) == 3
    assert len(fast._plans) == 3
