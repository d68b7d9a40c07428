"""The IVR's store services on SQLite and PostgreSQL: deposits, PIN checks, message changes,
replies and forwards, greetings, and the MWI targets of a change (ivr/services.py, switch/mwi.py)."""

from __future__ import annotations

import functools
import json
import wave
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.calllog import CallRecord
from ivr.pin import LockoutPolicy
from ivr.services import DepositContext, Voicemail, voice_seconds
from store import credentials, repository
from store.files import FileStore
from store.migrate import upgrade
from store.models import (
    CallLogEntry,
    Contact,
    ContactGroup,
    Greeting,
    Mailbox,
    Message,
    NotificationSettings,
    NotificationTarget,
    OutboxEvent,
)
from store.session import Store
from switch.mwi import EdgeNotifyRouter, MwiSender, NoEdgeNotifyRouter, Notify
from tests.support.disk import fill, small_filesystem
from tests.support.phone import dtmf_samples

RATE = 8000
A, B, C = "6135550100", "6135550111", "6135550122"


def speechlike(seconds: float, seed: int = 1) -> np.ndarray:
    """Noise bursts with pauses: voice to the detector (a steady tone would be its floor)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    envelope = (np.sin(np.arange(n) * 2 * np.pi * 3 / RATE) > -0.2).astype(float)
    return (rng.normal(0, 4000, n) * envelope).astype(np.int16)


def recording(path: Path, *parts: np.ndarray) -> Path:
    """A spool recording as pjmedia writes it: a 44-byte header, then the samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.concatenate(parts).astype("<i2").tobytes())
    return path


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


@pytest.fixture
def counted() -> list[tuple[str, repository.Counts]]:
    return []


@pytest.fixture
def vm(store: Store, tmp_path: Path, counted: list[tuple[str, repository.Counts]]) -> Voicemail:
    with store.transaction() as s:
        for number in (A, B, C):
            repository.create_account(
                s,
                number=number,
                name=f"Sub {number}",
                password="motdepasse1",
                pin="4826",
                language="fr",
            )
    return Voicemail(
        store,
        FileStore(tmp_path / "var"),
        tmp_path / "var" / "spool" / "w0",
        lockout=LockoutPolicy(5, 15),
        on_counts=lambda _s, line, c: functools.partial(counted.append, (line, c)),
    )


def ctx(mailbox: str = A, caller: str | None = "6135559999") -> DepositContext:
    return DepositContext(
        mailbox=mailbox,
        greeting="default",
        caller_number=caller,
        caller_name="Jean",
        started_at=datetime.now(UTC).isoformat(),
        call_id="call-1",
    )


def topics(store: Store, line: str) -> list[str]:
    with store.read() as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        return [r.topic.split("/", 2)[2] for r in rows if r.topic.startswith(f"relais/{line}/")]


def deposit(
    vm: Voicemail,
    mailbox: str = A,
    caller: str | None = "6135559999",
    urgent: bool = False,
    private: bool = False,
    seconds: float = 2.0,
) -> int:
    c = ctx(mailbox, caller)
    _, path = vm.prepare_deposit(c)
    recording(path, silence(0.5), speechlike(seconds), silence(1.0))
    message_id = vm.deliver(c, path, urgent=urgent, private=private)
    assert message_id is not None
    return message_id


def test_deposit_trims_and_writes_rows_events_and_counts(
    vm: Voicemail, store: Store, counted: list[tuple[str, repository.Counts]]
) -> None:
    c = ctx()
    setup, path = vm.prepare_deposit(c)
    assert setup.greeting.rule == "system" and setup.lang == "fr" and not setup.full
    assert json.loads(path.with_suffix(".json").read_text())["mailbox"] == A
    click = np.zeros(800, dtype=np.int16)
    click[100:140] = 20000
    recording(
        path, silence(0.6), speechlike(2.0), silence(0.8), dtmf_samples("#"), silence(1.5), click
    )
    assert 1.5 < voice_seconds(path) < 2.5
    message_id = vm.deliver(c, path, urgent=True, private=True)
    assert not path.exists() and not path.with_suffix(".json").exists()
    with store.read() as s:
        m = s.get(Message, message_id)
        assert m is not None
        assert (m.urgent, m.private, m.origin, m.caller_number) == (
            True,
            True,
            "call",
            "6135559999",
        )
        stored = vm.files.path(m.file_path)
        with wave.open(str(stored)) as w:
            kept = w.getnframes() / RATE
        assert 1.9 < m.duration_seconds < 2.2  # silence, the # tone and the click are gone
        assert abs(kept - m.duration_seconds) < 0.01
        [log] = s.scalars(select(CallLogEntry)).all()
        assert (log.direction, log.disposition) == ("missed", "voicemail")
    assert topics(store, A) == ["call/missed", "message/deposited", "mailbox/counts"]
    assert [(line, cnt.voice_new, cnt.voice_urgent_new) for line, cnt in counted] == [(A, 1, 1)]


def test_a_deposits_lamps_are_read_in_its_transaction_and_sent_after_it_commits(
    vm: Voicemail, store: Store
) -> None:
    """The MWI targets are read in the deposit's own transaction (no read of their own after
    it), and the NOTIFYs go once the message is there for everyone."""

    def stored() -> int:
        with store.read() as s:
            return len(s.scalars(select(Message).where(Message.line_number == A)).all())

    seen: list[tuple[str, int, int]] = []

    def on_counts(s: Session, line: str, counts: repository.Counts) -> Callable[[], None]:
        assert len(s.scalars(select(Message.id)).all()) == 1  # the change is in s
        seen.append(("read", counts.voice_new, stored()))
        return lambda: seen.append(("sent", counts.voice_new, stored()))

    vm.on_counts = on_counts
    c = ctx()
    _, path = vm.prepare_deposit(c)
    recording(path, speechlike(2.0))
    assert vm.deliver(c, path) is not None
    assert seen == [("read", 1, 0), ("sent", 1, 1)]


def test_a_lamp_that_cannot_be_read_does_not_lose_the_message(vm: Voicemail, store: Store) -> None:
    def on_counts(s: Session, line: str, counts: repository.Counts) -> Callable[[], None]:
        raise RuntimeError("no lamps today")

    vm.on_counts = on_counts
    c = ctx()
    _, path = vm.prepare_deposit(c)
    recording(path, speechlike(2.0))
    message_id = vm.deliver(c, path)
    with store.read() as s:
        assert message_id is not None and s.get(Message, message_id) is not None


def test_too_little_voice_is_discarded_and_logged_missed(vm: Voicemail, store: Store) -> None:
    c = ctx()
    _, path = vm.prepare_deposit(c)
    recording(path, silence(2.0), speechlike(0.4), silence(3.0))
    assert vm.deliver(c, path) is None
    assert not path.exists() and not path.with_suffix(".json").exists()
    with store.read() as s:
        assert s.scalars(select(Message)).all() == []
        [log] = s.scalars(select(CallLogEntry)).all()
        assert (log.direction, log.disposition) == ("missed", "abandoned")
    assert topics(store, A) == ["call/missed"]


def test_orphans_of_a_crash_are_delivered(vm: Voicemail, store: Store) -> None:
    c = ctx()
    _, path = vm.prepare_deposit(c)
    recording(path, silence(0.3), speechlike(1.5), silence(0.2))
    stray = vm.spool / "abc.phone.wav"
    recording(stray, speechlike(1.0))
    assert vm.recover_orphans() == 1
    assert not stray.exists()
    with store.read() as s:
        assert len(s.scalars(select(Message)).all()) == 1


def test_pin_lockout_across_calls(vm: Voicemail, store: Store) -> None:
    now = datetime.now(UTC)
    assert [vm.check_pin(A, "1111", now) for _ in range(4)] == ["wrong"] * 4
    assert vm.check_pin(A, "4826", now) == "ok"  # a right PIN resets the count
    assert [vm.check_pin(A, "0000", now) for _ in range(5)] == ["wrong"] * 4 + ["locked"]
    assert vm.check_pin(A, "4826", now + timedelta(minutes=14)) == "locked"
    with store.read() as s:
        box = s.get(Mailbox, A)
        assert box is not None and box.pin_locked_until is not None
    assert vm.check_pin(A, "4826", now + timedelta(minutes=15)) == "ok"
    assert vm.check_pin("6139999999", "4826", now) == "wrong"
    assert vm.check_pin("*98", "4826", now) == "wrong"


def test_open_orders_messages_and_finds_callers_names(vm: Voicemail, store: Store) -> None:
    old = deposit(vm, caller=B)
    vm.set_heard(A, old, True)
    plain = deposit(vm, caller=None)
    urgent = deposit(vm, caller=B, urgent=True)
    name = vm.spool.parent / "name.wav"
    recording(name, silence(0.2), speechlike(1.0), silence(0.2))
    vm.save_greeting(B, "name", str(name))
    opened = vm.open(A)
    assert [m.id for m in opened.messages] == [urgent, plain, old]
    assert opened.messages[0].caller_name_audio is not None
    assert opened.messages[1].caller_name_audio is None
    box = opened.box
    assert (box.number, box.lang, box.tz, box.envelope_mode) == (A, "fr", "America/Toronto", "both")
    assert topics(store, A)[-1] == "mailbox/accessed"
    assert box.extra_on == {"busy": False, "no_answer": False, "extended_absence": False}


def test_heard_saved_new_deleted_make_events_and_counts(
    vm: Voicemail, store: Store, counted: list[tuple[str, repository.Counts]]
) -> None:
    m = deposit(vm)
    counted.clear()
    vm.set_heard(A, m, True)
    vm.set_heard(A, m, True)  # no change: nothing written
    vm.save(A, m)
    vm.set_heard(A, m, False)
    vm.delete(A, m)
    vm.delete(A, m)
    assert topics(store, A)[3:] == [
        "message/changed",
        "mailbox/counts",
        "message/changed",
        "mailbox/counts",
        "message/changed",
        "mailbox/counts",
        "message/changed",
        "mailbox/counts",
    ]
    with store.read() as s:
        changes = [
            r.payload["change"]
            for r in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
            if r.payload["type"] == "message.changed"
        ]
        assert changes == ["heard", "saved", "new", "deleted"]
        msg = s.get(Message, m)
        assert msg is not None and msg.folder == "deleted" and msg.deleted_at is not None
    assert [(c.voice_new, c.voice_old) for _, c in counted] == [(0, 1), (0, 1), (1, 0), (0, 0)]
    with pytest.raises(repository.NotFound):
        vm.delete(B, m)


def test_reply_and_forward_into_local_mailboxes(vm: Voicemail, store: Store) -> None:
    m = deposit(vm, caller=B)
    assert vm.resolve_reply(A, B) == B
    assert vm.resolve_reply(A, "4165550000") is None
    reply = vm.spool / "r.phone.wav"
    recording(reply, silence(0.3), speechlike(1.2), silence(0.5))
    assert vm.send(A, str(reply), (B,), "reply", m) == 1
    assert not reply.exists()
    assert vm.forward(A, m, (C, B)) == 2
    with store.read() as s:
        rows = s.scalars(select(Message).where(Message.line_number.in_([B, C]))).all()
        got = sorted(
            (r.line_number, r.origin, r.original_message_id, r.caller_number) for r in rows
        )
    assert got == [(B, "forwarded", m, A), (B, "reply", m, A), (C, "forwarded", m, A)]
    assert topics(store, C) == ["message/deposited", "mailbox/counts"]
    private = deposit(vm, private=True)
    with pytest.raises(ValueError, match="a private message cannot be forwarded"):
        vm.forward(A, private, (B,))


def test_destinations(vm: Voicemail, store: Store) -> None:
    assert vm.resolve_destination(A, B) == ("ok", (B,))
    assert vm.resolve_destination(A, "1" + C) == ("ok", (C,))
    assert vm.resolve_destination(A, "4165550000") == ("error", "destination_no_mailbox")
    assert vm.resolve_destination(A, "42") == ("error", "destination_refused")
    with store.transaction() as s:
        account = s.get(Mailbox, A).line.account_id  # type: ignore[union-attr]
        team = ContactGroup(account_id=account, name="Team", phone_code="42")
        team.members = [
            Contact(account_id=account, first_name="B", mobile_phone="613-555-0111"),
            Contact(account_id=account, first_name="C", business_phone=C),
            Contact(account_id=account, first_name="X", home_phone="4165550000"),
        ]
        s.add(team)
        s.get(Mailbox, C).quota_seconds = 1  # type: ignore[union-attr]
    assert vm.resolve_destination(A, "42") == ("ok", (B, C))
    deposit(vm, mailbox=C)
    assert vm.resolve_destination(A, C) == ("error", "mailbox_full")
    assert vm.forward(A, deposit(vm), (C,)) == 0  # full: not delivered


def test_greetings_and_pin_by_phone(vm: Voicemail, store: Store) -> None:
    first = vm.spool / "g1.phone.wav"
    recording(first, silence(0.3), speechlike(1.5), silence(0.3))
    kind, path = vm.save_greeting(A, "personal", str(first))
    assert kind == "personal" and Path(path).is_file()
    second = vm.spool / "g2.phone.wav"
    recording(second, silence(0.3), speechlike(1.0, seed=2), silence(0.3))
    _, path2 = vm.save_greeting(A, "personal", str(second))
    assert not Path(path).exists() and Path(path2).is_file()  # the old file is gone
    assert vm.set_extra(A, "busy", True) is True
    assert vm.set_greeting(A, "system_name") == "system_name"
    with pytest.raises(ValueError, match="unknown greeting choice"):
        vm.set_greeting(A, "loud")
    assert vm.change_pin(A, "1234") is False
    assert vm.change_pin(A, "2580") is True
    with store.read() as s:
        box = s.get(Mailbox, A)
        assert box is not None
        assert (box.greeting, box.busy_greeting_enabled) == ("system_name", True)
        assert credentials.verify_secret(box.pin_hash, "2580")
        [g] = s.scalars(select(Greeting).where(Greeting.line_number == A)).all()
        assert g.kind == "personal" and 0.9 < g.duration_seconds < 1.2
    sections = [e for e in topics(store, A) if e == "settings/changed"]
    assert len(sections) == 5


def test_mwi_targets_of_a_change(vm: Voicemail, store: Store) -> None:
    with store.transaction() as s:
        repository.add_device(
            s,
            number=A,
            username="a1",
            password="device-pass-1",
            domain="relais.local",
            contact="sip:a1@127.0.0.1:5071",
        )
        repository.add_device(
            s, number=A, username="a2", password="device-pass-1", domain="relais.local"
        )
        repository.add_device(
            s,
            number=B,
            username="b1",
            password="device-pass-1",
            domain="relais.local",
            contact="sip:b1@127.0.0.1:5072",
        )
        s.add(NotificationTarget(line_number=A, channel="mwi", address=B, types=["all_faxes"]))
        s.add(
            NotificationTarget(
                line_number=A, channel="email", address="a@example.com", types=["all_voice"]
            )
        )
    sent: list[Notify] = []
    mwi = MwiSender(store, NoEdgeNotifyRouter(), sent.append, "relais.local")
    deposit(vm)
    assert mwi.counts_changed(A) == 2
    assert [n.uri for n in sent] == ["sip:a1@127.0.0.1:5071", "sip:b1@127.0.0.1:5072"]
    assert "Voice-Message: 1/0 (0/0)" in sent[0].body
    assert "Voice-Message" not in sent[1].body and "Fax-Message: 0/0" in sent[1].body
    sent.clear()
    assert mwi.counts_changed(A, kind="voice") == 1  # the fax-only target is not concerned
    with store.transaction() as s:
        settings = s.get(NotificationSettings, A)
        assert settings is not None
        settings.mwi_enabled = False
    assert mwi.counts_changed(A) == 0
    edge = MwiSender(store, EdgeNotifyRouter("10.0.0.1", 5060), sent.append, "relais.local")
    sent.clear()
    assert edge.counts_changed(B) == 1
    assert sent[0] == Notify(
        "sip:6135550111@10.0.0.1:5060",
        sent[0].body,
        (("X-Relais-Leg", "devices"),),
    )


def test_answer_confirmation_says_the_line_by_its_recorded_name(
    vm: Voicemail, store: Store
) -> None:
    assert vm.confirm_facts(A) == ("fr", None)
    with store.transaction() as s:
        mailbox = s.get(Mailbox, A)
        assert mailbox is not None
        mailbox.language = "en"
    name = vm.spool.parent / "name.wav"
    recording(name, silence(0.2), speechlike(1.0), silence(0.2))
    vm.save_greeting(A, "name", str(name))
    lang, spoken = vm.confirm_facts(A)
    assert lang == "en" and spoken is not None and Path(spoken).is_file()
    assert vm.confirm_facts(B) == ("fr", None)  # each line its own name


def test_low_disk_space_refuses_the_deposit_and_reports_it(
    vm: Voicemail, store: Store, tmp_path: Path
) -> None:
    low = Voicemail(
        store,
        FileStore(tmp_path / "var"),
        tmp_path / "var" / "spool" / "w1",
        min_free_bytes=10**18,  # more than any disk: always "low"
    )
    setup, path = low.prepare_deposit(ctx())
    assert setup.no_space
    assert not path.with_suffix(".json").exists()  # nothing written into a full disk
    assert topics(store, A) == ["message/refused"]
    with store.read() as s:
        (row,) = s.scalars(select(OutboxEvent)).all()
        assert row.payload["reason"] == "low-space" and row.payload["call_id"] == "call-1"
    setup, _ = vm.prepare_deposit(ctx())  # the same disk, no threshold
    assert not setup.no_space


def test_call_log_rows_survive_a_full_disk(tmp_path: Path) -> None:
    """The store on a small file system (a 4 MB tmpfs) that fills up: the missed-call row is
    kept, not lost, and written with the next row once there is room again."""
    with small_filesystem(tmp_path / "small", "4m") as small:
        store = Store(f"sqlite:///{small / 'relais.db'}")
        try:
            upgrade(store.engine)
            with store.transaction() as s:
                repository.create_account(s, number=A, name="A", password="motdepasse1", pin="4826")
            vm = Voicemail(store, FileStore(tmp_path / "var"), tmp_path / "var" / "spool" / "w0")
            with store.engine.connect() as conn:  # the next write must grow the WAL file
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            filler = fill(small)
            vm.log_call(ctx(caller="6135550001"), "missed", "voicemail")  # does not raise
            # A call the switch put through (no voicemail) goes the same way.
            answered = CallRecord(
                line=A, direction="received", disposition="answered", caller_number="6135550003",
                caller_name=None, started_at=datetime.now(UTC), duration_seconds=42.0,
                call_id="answered-1",
            )  # fmt: skip
            assert vm.calllog.write(answered) is False
            with store.read() as s:  # the disk was full indeed: the rows are waiting
                assert s.scalar(sa.text("SELECT count(*) FROM call_log")) == 0
            assert vm.calllog.pending == 2
            filler.unlink()
            vm.log_call(ctx(caller="6135550002"), "missed", "abandoned")
            with store.read() as s:
                rows = s.execute(
                    sa.text("SELECT caller_number, disposition FROM call_log ORDER BY id")
                ).all()
            assert [tuple(r) for r in rows] == [
                ("6135550001", "voicemail"),
                ("6135550003", "answered"),
                ("6135550002", "abandoned"),
            ]
            assert vm.calllog.pending == 0
        finally:
            store.dispose()


def test_only_a_recording_ending_in_a_key_is_searched_for_where_the_key_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ivr import services
    from media import analysis

    searched: list[int] = []
    first_dtmf = analysis.first_dtmf

    def counting(samples: np.ndarray) -> int | None:
        searched.append(len(samples))
        return first_dtmf(samples)

    monkeypatch.setattr(analysis, "first_dtmf", counting)
    plain = np.concatenate([speechlike(2.0), silence(1.0)]).astype(np.int16)
    assert services.cut_trailing_dtmf(plain) is plain and searched == []
    keyed = np.concatenate([plain, dtmf_samples("#"), silence(0.3)]).astype(np.int16)
    cut = services.cut_trailing_dtmf(keyed)
    assert len(searched) == 1 and len(plain) <= len(cut) < len(keyed)
    assert first_dtmf(cut[len(plain) :]) is None  # the key is gone with what follows it

    def missing(samples: np.ndarray) -> str:
        raise services.spandsp.SpandspUnavailable("no libspandsp here")

    monkeypatch.setattr(services.spandsp, "keys_in", missing)  # without spandsp: numpy alone
    assert np.array_equal(services.cut_trailing_dtmf(keyed), cut) and len(searched) == 2
