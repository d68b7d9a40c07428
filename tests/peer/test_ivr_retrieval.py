"""The owner by phone over real SIP (SPEC S5 retrieval, S6 MWI): login, lockout, the menus,
replies and forwards, options; what the phone hears is checked against the prompts, what the
desk phone's lamp is told against RFC 3842."""

from __future__ import annotations

import shutil
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.envelope import MessageInfo, envelope
from media import say
from media.convert import load_wav
from store import credentials
from store.models import Contact, ContactGroup, Line, Mailbox, Message
from tests.support.ivr import Subscriber, speech, subscriber, together
from tests.support.phone import Call, Phone, Phones, contains, ids, read_wav
from tests.support.portal import bearer, build, sign_in, sign_in_page
from tests.support.sip import SwitchUnderTest, free_ports

pytestmark = pytest.mark.peer

PIN = "4826"


def pilot(sut: SwitchUnderTest) -> str:
    return f"sip:*98@{sut.target}"


def desk_phone(phones: Phones, line: Subscriber) -> Phone:
    """The line's own device: provisioned with its static contact, so it is trusted."""
    phone = phones.phone(line.number)
    line.sut.device(line.number, phone.contact)
    return phone


def leave(phone: Phone, line: Subscriber, words: Path) -> None:
    """Skip the greeting, speak, hang up (hang-up = send); returns once it is stored."""
    before = len(line.messages())
    call = phone.call(line.uri)
    call.wait_answered()
    call.press("#")
    call.hear(*ids(line.box().language, "beep"))
    call.say(words)
    call.hangup()
    line.sut.wait_for(lambda: len(line.messages()) > before)


def envelope_of(line: Subscriber, m: Message, lang: str) -> list[str]:
    info = MessageInfo(
        m.id,
        m.heard,
        m.urgent,
        m.private,
        m.caller_number,
        m.received_at,
        m.duration_seconds,
        line.path(m),
    )
    return ids(lang, envelope(info, datetime.now(UTC), "America/Toronto", lang))


def lamp(phone: Phone, voice: str, waiting: str) -> None:
    phone.wait_notify(
        lambda t: f"Voice-Message: {voice}" in t and f"Messages-Waiting: {waiting}" in t
    )


def listens_saves_deletes_and_marks_new_in_french_and_the_lamp_follows(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    line = subscriber(ivr, "fr", quick_login=True)
    desk = desk_phone(phones, line)
    caller = phones.caller("6135551111")
    first = speech("Bonjour, c'est Louise. Rappelle-moi ce soir.", "fr")
    second = speech("Ici le garage, votre voiture est prête.", "fr")
    leave(caller, line, first)
    lamp(desk, "1/0 (0/0)", "yes")
    leave(phones.caller("6135551112"), line, second)
    notify = desk.wait_notify(lambda t: "Voice-Message: 2/0 (0/0)" in t)
    assert "Event: message-summary" in notify
    assert "Content-Type: application/simple-message-summary" in notify
    assert f"Message-Account: sip:{line.number}@relais.local" in notify
    assert "Fax-Message: 0/0" in notify
    m1, m2 = line.messages()

    call = desk.call(pilot(ivr))  # its own device with quick login: the PIN only
    call.wait_answered()
    call.hear(*ids("fr", "welcome", "enter_pin"))
    call.press(PIN + "#")
    call.hear(*ids("fr", say.mailbox_summary(2, 0, "fr"), say.menu(say.MAIN_MENU)[:3]))
    call.press("1")
    call.hear(*ids("fr", "first_new_message"), *envelope_of(line, m1, "fr"), line.path(m1))
    lamp(desk, "1/1 (0/0)", "yes")  # listened to the end: heard
    call.hear(*ids("fr", say.menu(say.MESSAGE_MENU)[:3]))
    call.press("2")  # save
    call.hear(*ids("fr", "message_saved", "next_message"), *envelope_of(line, m2, "fr"))
    call.press("3")  # delete it before hearing it
    call.hear(*ids("fr", "message_deleted", "no_more_messages", say.menu(say.MAIN_MENU)[:3]))
    lamp(desk, "0/1 (0/0)", "no")
    call.press("1")
    call.hear(*ids("fr", "saved_messages"))
    call.press("7")  # mark new
    call.hear(*ids("fr", "message_marked_new", "no_more_messages"))
    lamp(desk, "1/0 (0/0)", "yes")
    call.press("#")
    call.hear(*ids("fr", "goodbye"))
    call.wait_ended()
    kept, deleted = line.messages()
    assert (kept.folder, kept.heard, deleted.folder) == ("inbox", False, "deleted")
    assert line.event_types().count("message.changed") == 4  # heard, saved, deleted, new


def wrong_pins_end_the_call_lock_across_calls_and_from_is_no_proof(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    line = subscriber(ivr, "en", skip_pin=True)
    desk = desk_phone(phones, line)
    impostor = phones.caller(line.number)  # the owner's number in From, another address

    def attempt(call: Call, pin: str, then: list[str]) -> None:
        """Keys go in as soon as each prompt starts (barge-in)."""
        call.press(line.number + "#", gap=0.12)
        call.hear("fr/enter_pin[0:0.6]")
        call.press(pin + "#", gap=0.12)
        call.hear(*then)

    def three_wrong() -> None:
        call = impostor.call(pilot(ivr))
        call.wait_answered()
        call.hear(*ids("fr", "welcome"), "fr/enter_mailbox[0:1]")  # not let in, no PIN only
        attempt(call, "1111", [*ids("fr", "login_incorrect"), "fr/enter_mailbox[0:0.6]"])
        attempt(call, "1112", [*ids("fr", "login_incorrect"), "fr/enter_mailbox[0:0.6]"])
        attempt(call, "1113", ids("fr", "login_incorrect", "too_many_attempts", "goodbye"))
        call.wait_ended()

    def own_device() -> None:
        call = desk.call(pilot(ivr))  # authenticated own device with skip PIN: straight in
        call.wait_answered()
        call.hear(*ids("en", say.mailbox_summary(0, 0, "en"), say.menu(say.MAIN_MENU)[:2]))
        call.hangup()

    together(three_wrong, own_device)
    assert line.box().pin_failures == 3
    call = impostor.call(pilot(ivr))
    call.wait_answered()
    call.hear(*ids("fr", "welcome"), "fr/enter_mailbox[0:0.6]")
    attempt(call, "1114", [*ids("fr", "login_incorrect"), "fr/enter_mailbox[0:0.6]"])
    attempt(call, "1115", ids("fr", "mailbox_locked", "goodbye"))  # the 5th in a row
    call.wait_ended()
    box = line.box()
    assert box.pin_locked_until is not None and box.pin_failures == 0
    call = impostor.call(pilot(ivr))
    call.wait_answered()
    call.hear(*ids("fr", "welcome"), "fr/enter_mailbox[0:0.6]")
    attempt(call, PIN, ids("fr", "mailbox_locked", "goodbye"))  # even the right PIN
    call.wait_ended()


def replies_forwards_and_sends_into_other_local_mailboxes(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    owner = subscriber(ivr, "en", skip_pin=True, envelope_mode="message")
    colleague = subscriber(ivr, "en")
    boss = subscriber(ivr, "fr")
    desk = desk_phone(phones, owner)
    asked = speech("Can you send me the figures before noon?")
    leave(phones.caller(colleague.number), owner, asked)
    [question] = owner.messages()
    secret = owner.sut.root / "messages" / owner.number / "secret.wav"
    shutil.copy(speech("This one is between us."), secret)
    with ivr.store.transaction() as s:
        s.add(
            Message(
                line_number=owner.number,
                private=True,
                caller_number=colleague.number,
                duration_seconds=2.0,
                file_path=f"messages/{owner.number}/secret.wav",
            )
        )
        account = s.get(Line, owner.number).account_id  # type: ignore[union-attr]
        group = ContactGroup(account_id=account, name="Direction", phone_code="42")
        group.members = [Contact(account_id=account, first_name="B", business_phone=boss.number)]
        s.add(group)
    answer = speech("Sure, you will have them in an hour.")
    note = speech("Reminder for everyone: the office is closed on Monday.")

    call = desk.call(pilot(ivr))
    call.wait_answered()
    call.hear(*ids("en", say.mailbox_summary(2, 0, "en"), say.menu(say.MAIN_MENU)[:2]))
    call.press("1")
    call.hear(*ids("en", "first_new_message"), f"{owner.path(question)}[0:1]")
    call.press("4")  # reply
    call.hear(*ids("en", "record_message", "finish_with_pound", "beep"))
    call.say(answer)
    call.press("#")
    call.hear(*ids("en", say.menu(say.RECORDING_REVIEW_MENU)[:2]))
    call.press("1")
    call.hear(*ids("en", "message_sent", say.menu(say.MESSAGE_MENU)[:2]))
    call.press("5")  # forward
    call.hear(*ids("en", "enter_destination"))
    call.press(boss.number + "#", gap=0.12)
    call.hear(*ids("en", "destination_added", "enter_next_destination"))
    call.press("#")
    call.hear(*ids("en", "message_forwarded", say.menu(say.MESSAGE_MENU)[:2]))
    call.press("#")  # next: the private one
    call.hear(*ids("en", "next_message"), "/" + str(secret).lstrip("/") + "[0:1]")
    call.press("5")
    call.hear(*ids("en", "private_not_forwardable"))
    call.press("4")
    call.hear(*ids("en", "reply_not_possible"))
    call.press("*")  # main menu
    call.hear(*ids("en", say.menu(say.MAIN_MENU)[:2]))
    call.press("2")  # send a voice message to the group code
    call.hear(*ids("en", "enter_destination"))
    call.press("42#")
    call.hear(*ids("en", "destination_added", "enter_next_destination"))
    call.press("#")
    call.hear(*ids("en", "record_message", "finish_with_pound", "beep"))
    call.say(note)
    call.press("#")
    call.hear(*ids("en", say.menu(say.RECORDING_REVIEW_MENU)[:2]))
    call.press("1")
    call.hear(*ids("en", "message_sent"))
    call.hangup()

    [reply] = colleague.messages()
    assert (reply.origin, reply.original_message_id, reply.caller_number) == (
        "reply",
        question.id,
        owner.number,
    )
    forwarded, sent = boss.messages()
    assert (forwarded.origin, forwarded.original_message_id) == ("forwarded", question.id)
    assert (sent.origin, sent.caller_number) == ("call", owner.number)
    assert Path(boss.path(forwarded)).read_bytes() == Path(owner.path(question)).read_bytes()
    assert contains(load_wav(Path(colleague.path(reply))), answer)
    assert "message.deposited" in boss.event_types()


def records_a_greeting_after_star_changes_the_pin_then_a_caller_hears_it(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    line = subscriber(ivr, "en", quick_login=True)
    desk = desk_phone(phones, line)
    greeting = speech("Hi, this is Sam. I will call you back as soon as I can.")
    call = desk.call(line.uri)  # its own line: the greeting plays, * logs in
    call.wait_answered()
    call.hear(*ids("en", say.system_greeting("unavailable"))[:1])
    call.press("*")
    call.hear(*ids("en", "welcome", "enter_pin"))
    call.press(PIN + "#")
    call.hear(*ids("en", say.mailbox_summary(0, 0, "en"), say.menu(say.MAIN_MENU)[:2]))
    call.press("3")
    call.hear(*ids("en", say.menu(say.OPTIONS_MENU)[:2]))
    call.press("1")
    call.hear(*ids("en", "record_greeting", "finish_with_pound", "beep"))
    call.say(greeting)
    call.press("#")
    call.hear(*ids("en", say.menu(say.RECORDING_REVIEW_MENU)[:2]))
    call.press("1")
    call.hear(*ids("en", "greeting_saved", say.menu(say.OPTIONS_MENU)[:2]))
    call.press("4")
    call.hear(*ids("en", "enter_new_pin"))
    call.press("1111#")
    call.hear(*ids("en", "pin_error_repeated", "pin_not_changed"))
    call.press("4")
    call.hear(*ids("en", "enter_new_pin"))
    call.press("2580#")
    call.hear(*ids("en", "confirm_new_pin"))
    call.press("2580#")
    call.hear(*ids("en", "pin_changed"))
    call.hangup()
    box = line.box()
    assert box.greeting == "personal"
    assert credentials.verify_secret(box.pin_hash, "2580")
    assert ("received", "voicemail") in line.call_log()

    kept = line.sut.rows(
        "SELECT file_path FROM greeting WHERE line_number = :n AND kind = 'personal'",
        n=line.number,
    )[0][0]
    recorded = str((ivr.root / kept).resolve())
    caller = phones.caller("6135552222").call(line.uri)
    caller.wait_answered()
    caller.hear(f"{recorded}[0.5:]", *ids("en", "beep"))
    caller.hangup()
    assert contains(read_wav(recorded), greeting)


# Each test runs two independent scenarios at once: the worker and the phones hold 4 calls.


def test_listening_in_french_with_the_lamp_and_the_pin_lockout(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    together(
        lambda: listens_saves_deletes_and_marks_new_in_french_and_the_lamp_follows(ivr, phones),
        lambda: wrong_pins_end_the_call_lock_across_calls_and_from_is_no_proof(ivr, phones),
    )


def test_reply_forward_send_and_options_by_phone(ivr: SwitchUnderTest, phones: Phones) -> None:
    together(
        lambda: replies_forwards_and_sends_into_other_local_mailboxes(ivr, phones),
        lambda: records_a_greeting_after_star_changes_the_pin_then_a_caller_hears_it(ivr, phones),
    )


def test_hanging_up_as_a_message_ends_hears_it_hanging_up_halfway_keeps_it_new(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    """A caller hangs up as soon as the message has ended: the hang-up often reaches the
    switch before its own end of the playback (the phone's jitter buffer, the caller's ear), so
    a hang-up in the message's last second counts as having heard it; one earlier does not."""
    owner = subscriber(ivr, "en", skip_pin=True, envelope_mode="message")
    desk = desk_phone(phones, owner)
    words = "Hello, this is the dentist's office calling about your appointment next Tuesday."
    leave(phones.caller("6135551113"), owner, speech(words))
    leave(phones.caller("6135551114"), owner, speech(words))
    first, second = owner.messages()

    def listen(new: int, message: Message, until: float) -> None:
        """Log in, hear the first new message (`message`) up to `until` s, hang up at once."""
        call = desk.call(pilot(ivr))
        call.wait_answered()
        call.hear(*ids("en", say.mailbox_summary(new, 0, "en")))
        call.press("1")
        call.hear(*ids("en", "first_new_message"), f"{owner.path(message)}[0:{until:.2f}]")
        call.hangup()
        call.wait_ended()

    seconds = len(read_wav(owner.path(first))) / 8000
    assert seconds > 3.0
    listen(2, first, seconds - 0.8)  # (the phone hears it some 0.1 to 0.5 s after it is sent)
    owner.sut.wait_for(lambda: owner.messages()[0].heard)
    assert not owner.messages()[1].heard
    listen(1, second, 1.0)  # hung up with seconds left
    time.sleep(1.0)
    assert not owner.messages()[1].heard


def test_subscribe_for_message_summary_is_answered_489(ivr: SwitchUnderTest) -> None:
    """Without the edge nothing serves message-summary subscriptions: the worker refuses them
    with 489 Bad Event and the Allow-Events header RFC 6665 requires there (relais' pjproject
    patch), and devices rely on the unsolicited NOTIFYs."""
    port = free_ports(1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))
        s.settimeout(5)
        s.sendto(
            (
                f"SUBSCRIBE sip:6135550100@{ivr.target} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-mwi-{port}\r\n"
                "From: <sip:6135550100@relais.local>;tag=1\r\n"
                "To: <sip:6135550100@relais.local>\r\n"
                f"Call-ID: mwi-{port}@127.0.0.1\r\nCSeq: 1 SUBSCRIBE\r\n"
                f"Contact: <sip:6135550100@127.0.0.1:{port}>\r\n"
                "Event: message-summary\r\nAccept: application/simple-message-summary\r\n"
                "Expires: 3600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", ivr.port),
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            reply = s.recv(4096).decode()
            if not reply.startswith("SIP/2.0 1"):
                break
    assert reply.startswith("SIP/2.0 489")
    allow = [
        line.split(":", 1)[1].strip()
        for line in reply.split("\r\n")
        if line.lower().startswith(("allow-events:", "u:"))
    ]
    assert allow == ["presence"], reply


def test_five_wrong_pins_in_five_calls_lock_the_mailbox_and_the_portal_shows_it(
    ivr: SwitchUnderTest, phones: Phones, tmp_path: Path
) -> None:
    """One wrong PIN per call, by DTMF over real SIP: the fifth locks the mailbox; the right
    PIN is refused while it is locked and accepted once the lockout has ended; the portal
    (API and page) shows the lock."""
    line = subscriber(ivr, "en")
    caller = phones.caller("6135557788")
    portal = build(tmp_path, ivr.store)

    def call_with(pin: str, then: list[str]) -> None:
        call = caller.call(pilot(ivr))
        call.wait_answered()
        call.hear(*ids("fr", "welcome"), "fr/enter_mailbox[0:0.6]")
        call.press(line.number + "#", gap=0.12)
        call.hear("fr/enter_pin[0:0.6]")
        call.press(pin + "#", gap=0.12)
        call.hear(*then)
        call.hangup()
        call.wait_ended()

    for i, pin in enumerate(("1357", "2468", "9753", "8642")):
        call_with(pin, [*ids("fr", "login_incorrect"), "fr/enter_mailbox[0:0.6]"])
        assert line.box().pin_failures == i + 1  # counted across calls
    call_with("1470", ids("fr", "mailbox_locked", "goodbye"))
    box = line.box()
    assert box.pin_locked_until is not None and box.pin_failures == 0

    api = portal.client(
        headers=bearer(sign_in(portal.client(), number=line.number, password="motdepasse1"))
    )
    settings = f"/api/v1/lines/{line.number}/message-settings"
    assert api.get(settings).json()["pin_locked_until"] is not None
    page = portal.client()
    sign_in_page(page, number=line.number, password="motdepasse1")
    assert 'data-testid="pin-locked"' in page.get("/message-settings").text

    call_with(PIN, ids("fr", "mailbox_locked", "goodbye"))  # even the right PIN
    # The lockout ends (its time is moved into the past, as the clock would).
    with ivr.store.transaction() as s:
        mailbox = s.get(Mailbox, line.number)
        assert mailbox is not None and mailbox.pin_locked_until is not None
        mailbox.pin_locked_until = datetime.now(UTC) - timedelta(seconds=1)
    assert api.get(settings).json()["pin_locked_until"] is None
    call = caller.call(pilot(ivr))
    call.wait_answered()
    call.hear(*ids("fr", "welcome"), "fr/enter_mailbox[0:0.6]")
    call.press(line.number + "#", gap=0.12)
    call.hear("fr/enter_pin[0:0.6]")
    call.press(PIN + "#", gap=0.12)
    call.hear(*ids("en", say.mailbox_summary(0, 0, "en")))  # in, in the mailbox's language
    call.hangup()
    call.wait_ended()


def test_fax_autoplay_announces_each_new_fax_by_phone(ivr: SwitchUnderTest, phones: Phones) -> None:
    """With fax autoplay, the login summary counts the new faxes, then says each one's envelope
    ("A fax of 3 pages, from ..., received today at ...") and where to see them."""
    line = subscriber(ivr, "en", autoplay_fax=True)
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    with ivr.store.transaction() as s:
        s.add(
            Message(
                line_number=line.number, kind="fax", caller_number="6135550188", pages=3,
                received_at=received, file_path=f"messages/{line.number}/fax.tif",
            )
        )  # fmt: skip
    call = phones.caller("6135557799").call(pilot(ivr))
    call.wait_answered()
    call.hear(*ids("fr", "welcome"), "fr/enter_mailbox[0:0.6]")
    call.press(line.number + "#", gap=0.12)
    call.hear("fr/enter_pin[0:0.6]")
    call.press(PIN + "#", gap=0.12)
    fax = say.fax_envelope("6135550188", received, 3, datetime.now(UTC), "America/Toronto", "en")
    call.hear(*ids("en", say.mailbox_summary(0, 0, "en", new_faxes=1)))
    call.hear(*ids("en", fax, "faxes_on_portal"))
    call.hangup()
    call.wait_ended()
