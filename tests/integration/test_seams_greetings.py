"""Seam: greetings and the recorded name between the portal (message settings) and the phone
(deposit greeting selection, options menu) on one store and one storage root (SPEC S2, S5, S8)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from ivr.services import DepositContext
from store.models import Greeting
from tests.support.seams import (
    A_NUMBER,
    Both,
    both,
    speechlike,
    wav_bytes,
    wav_format,
)

__all__ = ["both"]

SETTINGS = f"/api/v1/lines/{A_NUMBER}/message-settings"
GREETINGS = f"/api/v1/lines/{A_NUMBER}/greetings"


def upload(b: Both, kind: str, seconds: float = 1.5) -> None:
    """An upload from the browser: 44.1 kHz stereo, converted by the portal."""
    data = wav_bytes(speechlike(seconds * 44100 / 8000, seed=3), rate=44100, channels=2)
    r = b.api.put(f"{GREETINGS}/{kind}", files={"file": (f"{kind}.wav", data, "audio/wav")})
    assert r.status_code == 200, r.text


def heard_by_caller(b: Both, reason: str = "default") -> tuple[str, tuple[str, ...]]:
    ctx = DepositContext(
        mailbox=A_NUMBER,
        greeting=reason,
        caller_number="4185550123",
        caller_name=None,
        started_at=datetime.now(UTC).isoformat(),
        call_id="seam-greeting",
    )
    setup, path = b.vm.prepare_deposit(ctx)
    b.vm.discard(path)
    return setup.greeting.rule, setup.greeting.audio


def stored(b: Both, kind: str) -> Path:
    with b.store.read() as s:
        row = s.scalar(
            select(Greeting).where(Greeting.line_number == A_NUMBER, Greeting.kind == kind)
        )
        assert row is not None
        assert row.file_path.startswith(f"greetings/{A_NUMBER}/")
        return b.env.files.path(row.file_path)


def test_portal_greetings_are_what_callers_hear(both: Both) -> None:
    for kind in ("personal", "busy", "extended_absence", "name"):
        upload(both, kind)
        assert wav_format(stored(both, kind)) == (8000, 1, 2)

    r = both.api.put(SETTINGS, json={"greeting": "personal"})
    assert r.status_code == 200, r.text
    assert heard_by_caller(both) == ("personal", (str(stored(both, "personal")),))

    r = both.api.put(SETTINGS, json={"greeting": "system_name"})
    assert r.status_code == 200, r.text
    rule, audio = heard_by_caller(both)
    assert rule == "system_name" and audio[0] == str(stored(both, "name"))

    r = both.api.put(SETTINGS, json={"busy_greeting_enabled": True})
    assert r.status_code == 200, r.text
    assert heard_by_caller(both, "busy") == ("busy", (str(stored(both, "busy")),))

    r = both.api.put(SETTINGS, json={"extended_absence_enabled": True})
    assert r.status_code == 200, r.text
    assert heard_by_caller(both, "busy") == (
        "extended_absence",
        (str(stored(both, "extended_absence")),),
    )
    # The phone's options menu sees the same choice, recordings and switches.
    box = both.vm.open(A_NUMBER).box
    assert box.greeting == "system_name"
    assert set(box.greetings) == {"personal", "busy", "extended_absence", "name"}
    assert box.extra_on == {"busy": True, "no_answer": False, "extended_absence": True}


def test_greetings_recorded_by_phone_show_and_play_in_the_portal(both: Both) -> None:
    for kind in ("personal", "name", "no_answer"):
        both.vm.save_greeting(A_NUMBER, kind, both.phone_recording(kind))
    body = both.api.get(SETTINGS).json()
    assert body["greeting"] == "personal"
    recorded = {g["kind"]: g for g in body["greetings"] if g["recorded"]}
    assert set(recorded) == {"personal", "name", "no_answer"}
    for kind, g in recorded.items():
        assert 1.0 < g["duration_seconds"] < 2.0
        r = both.api.get(f"{GREETINGS}/{kind}")
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        assert r.content == stored(both, kind).read_bytes()
        assert wav_format(stored(both, kind)) == (8000, 1, 2)

    # A greeting uploaded in the portal replaces the phone's (and its file).
    old = stored(both, "personal")
    upload(both, "personal", seconds=2.5)
    assert not old.exists()
    assert heard_by_caller(both) == ("personal", (str(stored(both, "personal")),))


def test_greeting_choice_made_by_phone_is_the_portals(both: Both) -> None:
    both.vm.set_greeting(A_NUMBER, "system_number")
    assert both.api.get(SETTINGS).json()["greeting"] == "system_number"
    r = both.api.put(SETTINGS, json={"greeting": "system"})
    assert r.status_code == 200, r.text
    assert both.vm.open(A_NUMBER).box.greeting == "system"
    assert heard_by_caller(both)[0] == "system"


def test_an_extra_greeting_switched_on_by_phone_does_not_block_the_portal(both: Both) -> None:
    """By phone, an extra greeting can be on before it is recorded (callers then hear the
    system greeting); the portal shows that and still saves its other settings."""
    both.vm.set_extra(A_NUMBER, "extended_absence", True)
    assert heard_by_caller(both)[0] == "extended_absence_system"
    body = both.api.get(SETTINGS).json()
    assert body["extended_absence_enabled"] is True
    r = both.api.put(SETTINGS, json={"envelope_mode": "message"})
    assert r.status_code == 200, r.text
    assert both.vm.open(A_NUMBER).box.envelope_mode == "message"
    assert both.api.get(SETTINGS).json()["extended_absence_enabled"] is True
    # Switching one on from the portal still needs its recording.
    r = both.api.put(SETTINGS, json={"busy_greeting_enabled": True})
    assert r.status_code == 422
    [problem] = r.json()["fields"]
    assert problem["field"] == "busy_greeting_enabled"
    assert "msgid" not in problem["detail"] and "accueil" in problem["detail"]
