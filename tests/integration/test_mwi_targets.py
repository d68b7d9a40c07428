"""Who is told about a mailbox's messages (SPEC S6), on SQLite and PostgreSQL: the line's MWI
targets that are local lines, with their types, unless MWI is off; and, when a phone of a line
registers, every mailbox that lights a lamp on that line."""

from __future__ import annotations

from store import repository as repo
from store.models import Message, NotificationSettings, NotificationTarget
from store.session import Store
from switch import mwi

DOMAIN = "relais.local"


def setup(store: Store) -> None:
    with store.transaction() as s:
        repo.create_account(
            s, number="6135550100", name="Jeanne Tremblay", password="motdepasse1", pin="4826"
        )
        repo.add_line(s, account_number="6135550100", number="6135550101")
        s.add(Message(line_number="6135550100", kind="voice", file_path="m/1.wav", urgent=True))
        s.add(Message(line_number="6135550100", kind="voice", file_path="m/2.wav", heard=True))
        # 6135550100 also lights the lamp of its second line (urgent voice only), and names a
        # cell phone that is not a line (no phone of ours to notify there).
        s.add(
            NotificationTarget(
                line_number="6135550100",
                channel="mwi",
                address="6135550101",
                types=["urgent_voice"],
            )
        )
        s.add(
            NotificationTarget(
                line_number="6135550100", channel="mwi", address="8195550123", types=["all_voice"]
            )
        )


def test_a_mailbox_tells_its_local_targets(store: Store) -> None:
    setup(store)
    with store.read() as s:
        notices = mwi.for_mailbox(s, "6135550100", DOMAIN)
    assert [(n.mailbox, n.target) for n in notices] == [
        ("6135550100", "6135550100"),
        ("6135550100", "6135550101"),
    ]
    own, second = notices
    assert own.body == (
        b"Messages-Waiting: yes\r\nMessage-Account: sip:6135550100@relais.local\r\n"
        b"Voice-Message: 1/1 (1/0)\r\nFax-Message: 0/0\r\n"
    )
    assert second.body.splitlines()[2] == b"Voice-Message: 1/0 (1/0)"


def test_a_registering_line_gets_every_lamp_it_shows(store: Store) -> None:
    setup(store)
    with store.read() as s:
        second = mwi.for_registered_line(s, "6135550101", DOMAIN)
        own = mwi.for_registered_line(s, "6135550100", DOMAIN)
    # 6135550101's own (empty) mailbox, and 6135550100's urgent messages.
    assert sorted((n.mailbox, n.target) for n in second) == [
        ("6135550100", "6135550101"),
        ("6135550101", "6135550101"),
    ]
    assert [(n.mailbox, n.target) for n in own] == [("6135550100", "6135550100")]


def test_mwi_off_sends_nothing(store: Store) -> None:
    setup(store)
    with store.transaction() as s:
        settings = s.get(NotificationSettings, "6135550100")
        assert settings is not None
        settings.mwi_enabled = False
    with store.read() as s:
        assert mwi.for_mailbox(s, "6135550100", DOMAIN) == []
        assert [n.mailbox for n in mwi.for_registered_line(s, "6135550101", DOMAIN)] == [
            "6135550101"
        ]
