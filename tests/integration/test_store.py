"""The store on SQLite and PostgreSQL: migrations, constraints, repository round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from routing.model import (
    ACCOUNT_PHONE,
    DialPlan,
    FallbackAction,
    IncomingMode,
    LineSettings,
    PhoneState,
    RingEntry,
    RingTable,
)
from store import repository as repo
from store.migrate import current_revision, downgrade, head_revision, upgrade
from store.models import (
    Base,
    CallSettings,
    Device,
    Line,
    Mailbox,
    Message,
    NotificationTarget,
    OutboxEvent,
)
from store.session import Store

NUMBER = "6135550100"


def make_account(s: sa.orm.Session, number: str = NUMBER) -> None:
    repo.create_account(
        s, number=number, name="Jeanne Tremblay", password="motdepasse1", pin="4826"
    )


def test_migrations_create_every_table_and_go_down_and_up(database_url: str) -> None:
    store = Store(database_url)
    assert current_revision(store.engine) is None
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    downgrade(store.engine, "base")
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    upgrade(store.engine)
    assert set(Base.metadata.tables) <= set(sa.inspect(store.engine).get_table_names())
    store.dispose()


def test_migration_matches_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = Store(database_url)
    upgrade(store.engine)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    store.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_create_account_makes_line_mailbox_settings_and_own_mwi_target(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
    with store.read() as s:
        line = s.get(Line, NUMBER)
        assert line is not None and line.is_primary
        assert line.account.display_name == "Jeanne Tremblay"
        mailbox = s.get(Mailbox, NUMBER)
        assert mailbox is not None and mailbox.quota_seconds == 3600
        assert mailbox.pin_hash.startswith("$argon2id$")
        assert s.get(CallSettings, NUMBER) is not None
        targets = s.scalars(sa.select(NotificationTarget)).all()
        assert [(t.channel, t.address, sorted(t.types)) for t in targets] == [
            ("mwi", NUMBER, ["all_faxes", "all_voice", "urgent_voice"])
        ]


def test_duplicate_number_is_refused_and_nothing_is_written(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
    with (
        pytest.raises(ValueError, match="^the number 6135550100 is already in use$"),
        store.transaction() as s,
    ):
        make_account(s)
    with store.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Line)) == 1


def test_secondary_line_shares_the_account_and_pin(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
        repo.add_line(s, account_number=NUMBER, number="6135550101")
    with store.read() as s:
        second = s.get(Line, "6135550101")
        assert second is not None and not second.is_primary
        assert second.account_id == s.get(Line, NUMBER).account_id  # type: ignore[union-attr]
        assert s.get(Mailbox, "6135550101").pin_hash == s.get(Mailbox, NUMBER).pin_hash  # type: ignore[union-attr]


def test_one_primary_line_per_account_is_enforced(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
        repo.add_line(s, account_number=NUMBER, number="6135550101")
    with pytest.raises(IntegrityError), store.transaction() as s:
        s.get(Line, "6135550101").is_primary = True  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("column", "value"),
    [("phone_state", "sleeping"), ("incoming_mode", "broadcast"), ("no_answer_timeout", 3)],
)
def test_check_constraints(store: Store, column: str, value: object) -> None:
    with store.transaction() as s:
        make_account(s)
    with pytest.raises(IntegrityError), store.transaction() as s:
        s.execute(sa.update(CallSettings).values({column: value}))


def test_device_keeps_only_digest_values_and_usernames_are_unique(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
        repo.add_device(
            s, number=NUMBER, username="desk", password="s3cret-pass", domain="relais.local"
        )
    with store.read() as s:
        dev = s.scalars(sa.select(Device)).one()
        assert len(dev.ha1) == 32 and "s3cret" not in dev.ha1 + dev.ha1b
    with (
        pytest.raises(ValueError, match="^the SIP username desk is already in use$"),
        store.transaction() as s,
    ):
        repo.add_device(
            s, number=NUMBER, username="desk", password="other-pass", domain="relais.local"
        )
    with (
        pytest.raises(LookupError, match="^line 6135550199 does not exist$"),
        store.transaction() as s,
    ):
        repo.add_device(s, number="6135550199", username="x", password="other-pass", domain="d")


def test_deleting_an_account_cascades(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
        repo.add_device(s, number=NUMBER, username="desk", password="s3cret-pass", domain="d")
    with store.transaction() as s:
        s.delete(s.get(Line, NUMBER).account)  # type: ignore[union-attr]
    with store.read() as s:
        for model in (Line, Mailbox, CallSettings, Device, NotificationTarget):
            assert s.scalar(sa.select(sa.func.count()).select_from(model)) == 0


FULL = LineSettings(
    line=NUMBER,
    has_mailbox=True,
    has_devices=True,
    phone_state=PhoneState.DND,
    incoming_mode=IncomingMode.SEQUENTIAL,
    forward_all_to="6135550199",
    ring_table=RingTable(
        (
            RingEntry(ACCOUNT_PHONE, (20, 10, None)),
            RingEntry("6135550142", (None, 15, 30), allow_remote_forwarding=True),
            RingEntry("6135550147", (10,), confirm_answer=False),
            RingEntry("6135550148", (None, 10), confirm_answer=True),
        )
    ),
    no_answer_action=FallbackAction.NUMBER,
    no_answer_to="6135550143",
    no_answer_timeout=36,
    busy_action=FallbackAction.NUMBER,
    busy_to="6135550144",
    unavailable_forwarding=True,
    unavailable_to="6135550145",
    selective_forwarding=True,
    selective_forward_to="6135550146",
    forward_list=frozenset({"4165550101", "4165550102"}),
    selective_rejection=True,
    reject_list=frozenset({"4165550103"}),
    anonymous_rejection=True,
    allow_international=False,
    dial_plan=DialPlan(allow_international=True),
    forward_timeout=40,
    max_diversions=4,
)


def test_line_settings_round_trip(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
        repo.add_device(s, number=NUMBER, username="desk", password="s3cret-pass", domain="d")
        repo.save_line_settings(s, FULL)
    with store.read() as s:
        loaded = repo.line_settings(
            s, NUMBER, dial_plan=FULL.dial_plan, forward_timeout=40, max_diversions=4
        )
    assert loaded == FULL
    # saving again replaces the table and lists instead of adding to them
    smaller = LineSettings(line=NUMBER, forward_list=frozenset({"4165550109"}))
    with store.transaction() as s:
        repo.save_line_settings(s, smaller)
    with store.read() as s:
        loaded = repo.line_settings(s, NUMBER)
    assert loaded is not None
    assert loaded.ring_table == RingTable(())
    assert loaded.forward_list == frozenset({"4165550109"}) and loaded.reject_list == frozenset()
    assert loaded.has_devices  # the device is still there


def test_ring_table_numbers_that_are_lines_of_the_installation_are_local(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
        make_account(s, "6135550142")
        repo.save_line_settings(s, FULL)
    with store.read() as s:
        loaded = repo.line_settings(s, NUMBER)
    assert loaded is not None and loaded.local_numbers == frozenset({"6135550142"})
    assert [e.confirm_answer for e in loaded.ring_table.entries] == [None, None, False, True]


def test_unknown_line_has_no_settings(store: Store) -> None:
    with store.read() as s:
        assert repo.line_settings(s, "6135550199") is None


def test_mailbox_counts_and_outbox_event_in_the_same_transaction(store: Store) -> None:
    now = datetime.now(UTC)
    with store.transaction() as s:
        make_account(s)
    with store.transaction() as s:
        for i, (kind, heard, urgent, folder, secs) in enumerate(
            [
                ("voice", False, False, "inbox", 10.0),
                ("voice", False, True, "inbox", 20.0),
                ("voice", True, True, "inbox", 5.5),
                ("voice", True, False, "deleted", 30.0),
                ("fax", False, False, "inbox", 0.0),
            ]
        ):
            s.add(
                Message(
                    line_number=NUMBER,
                    kind=kind,
                    heard=heard,
                    urgent=urgent,
                    folder=folder,
                    duration_seconds=secs,
                    file_path=f"messages/{NUMBER}/{i}.wav",
                    received_at=now - timedelta(minutes=i),
                )
            )
        s.flush()
        counts = repo.mailbox_changed(s, NUMBER)
    assert counts == repo.Counts(
        voice_new=2,
        voice_old=1,
        voice_urgent_new=1,
        voice_urgent_old=1,
        fax_new=1,
        fax_old=0,
        used_seconds=65.5,
        quota_seconds=3600,
    )
    with store.read() as s:
        event = s.scalars(sa.select(OutboxEvent)).one()
        assert event.topic == f"relais/{NUMBER}/mailbox/counts"
        assert event.payload["voice_new"] == 2 and event.payload["used_seconds"] == 65.5
        assert event.sent_at is None


def test_rolled_back_change_leaves_no_event(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
    with pytest.raises(RuntimeError), store.transaction() as s:
        repo.mailbox_changed(s, NUMBER)
        raise RuntimeError("crash before commit")
    with store.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0


def test_times_come_back_timezone_aware_utc(store: Store) -> None:
    t = datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC)
    with store.transaction() as s:
        make_account(s)
        s.add(Message(line_number=NUMBER, file_path="m.wav", received_at=t))
    with store.read() as s:
        got = s.scalars(sa.select(Message.received_at)).one()
    assert got == t and got.tzinfo is not None


def test_counts_of_an_empty_mailbox_and_of_no_mailbox(store: Store) -> None:
    with store.transaction() as s:
        make_account(s)
    with store.read() as s:
        empty = repo.mailbox_counts(s, NUMBER)
        assert empty == repo.Counts(0, 0, 0, 0, 0, 0, 0.0, 3600)
        with pytest.raises(repo.NotFound) as err:
            repo.mailbox_counts(s, "6135550199")
    assert str(err.value) == "line 6135550199 has no mailbox"
