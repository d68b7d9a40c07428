"""Who is told about a mailbox's messages (SPEC S6), on SQLite and PostgreSQL: the line's MWI
targets that are local lines, with their types, unless MWI is off; and, when a phone of a line
registers, every mailbox that lights a lamp on that line."""

from __future__ import annotations

from sqlalchemy.orm import Session

from store import repository as repo
from store.models import Line, Message, NotificationSettings, NotificationTarget
from store.session import Store
from switch.legs import Destination
from switch.mwi import MwiSender, Notify

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


class Lines:
    """A notify router that names the target line instead of a phone's address."""

    def resolve(self, session: Session, number: str) -> tuple[Destination, ...]:
        return (Destination(f"sip:{number}@phones"),) if session.get(Line, number) else ()


def sender(store: Store) -> tuple[MwiSender, list[Notify]]:
    sent: list[Notify] = []
    return MwiSender(store, Lines(), sent.append, DOMAIN), sent


def account(body: str) -> str:
    return body.splitlines()[1].removeprefix("Message-Account: sip:").removesuffix(f"@{DOMAIN}")


def test_a_mailbox_tells_its_local_targets(store: Store) -> None:
    setup(store)
    mwi, sent = sender(store)
    assert mwi.counts_changed("6135550100") == 2
    assert [n.uri for n in sent] == ["sip:6135550100@phones", "sip:6135550101@phones"]
    own, second = sent
    assert own.body == (
        "Messages-Waiting: yes\r\nMessage-Account: sip:6135550100@relais.local\r\n"
        "Voice-Message: 1/1 (1/0)\r\nFax-Message: 0/0\r\n"
    )
    assert second.body.splitlines()[2] == "Voice-Message: 1/0 (1/0)"


def test_a_registering_line_gets_every_lamp_it_shows(store: Store) -> None:
    setup(store)
    mwi, sent = sender(store)
    assert mwi.registered("6135550101") == 2
    # 6135550101's own (empty) mailbox, and 6135550100's urgent messages.
    assert sorted((account(n.body), n.uri) for n in sent) == [
        ("6135550100", "sip:6135550101@phones"),
        ("6135550101", "sip:6135550101@phones"),
    ]
    sent.clear()
    assert mwi.registered("6135550100") == 1
    assert [(account(n.body), n.uri) for n in sent] == [("6135550100", "sip:6135550100@phones")]


def test_mwi_off_sends_nothing(store: Store) -> None:
    setup(store)
    with store.transaction() as s:
        settings = s.get(NotificationSettings, "6135550100")
        assert settings is not None
        settings.mwi_enabled = False
    mwi, sent = sender(store)
    assert mwi.counts_changed("6135550100") == 0
    assert mwi.registered("6135550101") == 1
    assert [account(n.body) for n in sent] == ["6135550101"]
