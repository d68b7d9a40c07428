"""Seam: messages between the phone (deposits, main menu, replies, forwards by phone) and the
portal (Messages page and API, new voice messages, replies, forwards): the same rows, files,
counts and events (SPEC S2, S5, S6, S7, S8)."""

from __future__ import annotations

from sqlalchemy import select

from ivr.services import RATE
from store.models import Message, OutboxEvent
from tests.support.portal import B_PASSWORD
from tests.support.seams import (
    A_NUMBER,
    B_NUMBER,
    CALLER,
    Both,
    both,
    speechlike,
    wav_bytes,
    wav_format,
)

__all__ = ["both"]

MESSAGES = f"/api/v1/lines/{A_NUMBER}/messages"


def counts_events(b: Both, line: str) -> list[dict[str, object]]:
    with b.store.read() as s:
        rows = s.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == f"relais/{line}/mailbox/counts")
            .order_by(OutboxEvent.id)
        ).all()
        return [r.payload for r in rows]


def phone_view(b: Both, line: str) -> dict[int, tuple[bool, bool, bool, str | None, str]]:
    """What the main menu plays: id -> (heard, urgent, private, caller, origin)."""
    return {
        m.id: (m.heard, m.urgent, m.private, m.caller_number, m.origin)
        for m in b.vm.open(line).messages
    }


def audio(seconds: float = 1.5) -> bytes:
    """A browser recording (16 kHz)."""
    return wav_bytes(speechlike(seconds * 2, seed=7), rate=16000)


def test_a_deposit_shows_in_the_portal_with_contact_name_icons_and_audio(both: Both) -> None:
    r = both.api.post(
        "/api/v1/contacts",
        json={"first_name": "Paul", "last_name": "Roy", "mobile_phone": "+1 (418) 555-0123"},
    )
    assert r.status_code == 201, r.text
    mid = both.deposit(caller=CALLER, urgent=True, private=True, seconds=2.0)
    [m] = both.api.get(MESSAGES).json()["messages"]
    assert m["id"] == mid and m["display_name"] == "Paul Roy"
    assert m["contact_id"] == r.json()["id"]
    assert (m["urgent"], m["private"], m["heard"], m["origin"]) == (True, True, False, "call")
    assert 1.8 < m["duration_seconds"] < 2.3
    wave_r = both.api.get(m["waveform_url"])
    assert wave_r.status_code == 200 and wave_r.text.startswith("<svg")
    full = both.api.get(m["audio_url"])
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert abs((len(full.content) - 44) / 2 / RATE - m["duration_seconds"]) < 0.01
    part = both.api.get(m["audio_url"], headers={"Range": "bytes=44-143"})
    assert part.status_code == 206 and part.content == full.content[44:144]


def test_portal_changes_update_the_phone_and_the_counts(both: Both) -> None:
    first = both.deposit()
    second = both.deposit(urgent=True)
    assert [c["voice_new"] for c in counts_events(both, A_NUMBER)] == [1, 2]

    r = both.api.patch(f"{MESSAGES}/{first}", json={"heard": True})
    assert r.status_code == 200, r.text
    assert phone_view(both, A_NUMBER)[first][0] is True
    assert both.vm.counts(A_NUMBER).voice_old == 1
    r = both.api.patch(f"{MESSAGES}/{second}", json={"folder": "deleted"})
    assert r.status_code == 200, r.text
    assert set(phone_view(both, A_NUMBER)) == {first}
    r = both.api.patch(f"{MESSAGES}/{second}", json={"folder": "inbox"})
    assert r.status_code == 200, r.text
    assert phone_view(both, A_NUMBER)[second][:2] == (False, True)
    events = counts_events(both, A_NUMBER)
    assert [(c["voice_new"], c["voice_old"], c["voice_urgent_new"]) for c in events[2:]] == [
        (1, 1, 1),
        (0, 1, 0),
        (1, 1, 1),
    ]
    # And the other way: heard by phone is heard in the portal.
    both.vm.set_heard(A_NUMBER, second, True)
    listed = {m["id"]: m["heard"] for m in both.api.get(MESSAGES).json()["messages"]}
    assert listed == {first: True, second: True}
    assert both.api.get(MESSAGES).json()["counts"]["voice_new"] == 0


def test_portal_messages_and_replies_land_in_the_phones_view(both: Both) -> None:
    r = both.api.post(
        MESSAGES,
        files={"audio": ("rec.wav", audio(), "audio/wav")},
        data={"to": B_NUMBER, "urgent": "true", "private": "true"},
    )
    assert r.status_code == 201, r.text
    [delivered] = r.json()["delivered"]
    sent = delivered["message_id"]
    view = both.vm.open(B_NUMBER)
    assert {m.id: (m.heard, m.urgent, m.private, m.caller_number, m.origin) for m in view.messages}[
        sent
    ] == (False, True, True, A_NUMBER, "portal")
    with both.store.read() as s:
        m = s.get(Message, sent)
        assert m is not None and m.caller_name == "Jeanne Tremblay"
        assert wav_format(both.env.files.path(m.file_path)) == (8000, 1, 2)

    # B's owner calls A's number and leaves a message; A replies from the portal.
    from_b = both.deposit(caller=B_NUMBER)
    r = both.api.post(
        f"{MESSAGES}/{from_b}/reply", files={"audio": ("rec.wav", audio(), "audio/wav")}
    )
    assert r.status_code == 201, r.text
    [delivered] = r.json()["delivered"]
    assert delivered["number"] == B_NUMBER
    assert phone_view(both, B_NUMBER)[delivered["message_id"]] == (
        False,
        False,
        False,
        A_NUMBER,
        "reply",
    )
    # B replies by phone; A sees it in the portal.
    b_api = both.api_as(B_NUMBER, B_PASSWORD)
    assert b_api.get(f"/api/v1/lines/{B_NUMBER}/messages").status_code == 200
    assert both.vm.send(B_NUMBER, both.phone_recording("reply"), [A_NUMBER], "reply", sent) == 1
    listed = both.api.get(MESSAGES).json()["messages"]
    assert sorted((m["caller_number"], m["origin"], m["heard"]) for m in listed) == [
        (B_NUMBER, "call", False),
        (B_NUMBER, "reply", False),
    ]


def test_a_private_message_is_refused_for_forward_both_ways(both: Both) -> None:
    by_phone = both.deposit(private=True)
    r = both.api.post(f"{MESSAGES}/{by_phone}/forward", json={"as": "voicemail", "to": [B_NUMBER]})
    assert r.status_code == 403 and r.json()["error"] == "private-message-not-forwardable"

    r = both.api.post(
        MESSAGES,
        files={"audio": ("rec.wav", audio(), "audio/wav")},
        data={"to": B_NUMBER, "private": "true"},
    )
    [delivered] = r.json()["delivered"]
    refused = False
    try:
        both.vm.forward(B_NUMBER, delivered["message_id"], [A_NUMBER])
    except ValueError:
        refused = True
    assert refused
    with both.store.read() as s:
        assert s.scalars(select(Message).where(Message.origin == "forwarded")).all() == []
