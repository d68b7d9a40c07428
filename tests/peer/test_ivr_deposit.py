"""Leaving a message over real SIP (SPEC S5 deposit): what the caller hears, checked by
cross-correlation against the shipped prompts, and what the store keeps."""

from __future__ import annotations

import json
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from config.settings import load_settings
from events.events import StorageSpace, parse_event
from media import analysis, say
from media.convert import load_wav
from store.models import Message, OutboxEvent
from tests.support.disk import fill, small_filesystem
from tests.support.ivr import speech, subscriber, together
from tests.support.phone import PROMPTS, Phones, contains, ids, read_wav
from tests.support.sip import SwitchUnderTest, need_tap, run_worker

pytestmark = pytest.mark.peer

CALLER = "6135559876"


def test_greeting_by_choice_and_reason_skip_and_full_mailbox(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    name = speech("Marie Tremblay")
    personal = speech(
        "Hello, you have reached Marie Tremblay, of the operations team. "
        "I cannot take your call. Leave me a message."
    )
    busy = speech("I am on the phone right now.")
    system = subscriber(ivr, "en")
    numbered = subscriber(ivr, "fr", greeting="system_number")
    named = subscriber(ivr, "en", greeting="system_name")
    named_path = named.greeting("name", name)
    nameless = subscriber(ivr, "en", greeting="system_name")
    own = subscriber(ivr, "en", greeting="personal", busy_greeting_enabled=True)
    own_path = own.greeting("personal", personal)
    busy_path = own.greeting("busy", busy)
    away = subscriber(ivr, "fr", greeting="personal", extended_absence_enabled=True)
    away.greeting("personal", personal)
    full = subscriber(ivr, "en", quota_seconds=10)
    with ivr.store.transaction() as s:
        s.add(
            Message(
                line_number=full.number,
                folder="deleted",
                duration_seconds=10.0,
                file_path="messages/x.wav",
            )
        )
    phone = phones.caller(CALLER)
    beep_en, beep_fr = ids("en", "beep"), ids("fr", "beep")

    def hears(target: str, expected: list[str], **headers: str) -> None:
        call = phone.call(target, tuple(headers.items()))
        call.wait_answered()
        call.hear(*expected)
        call.hangup()

    together(
        lambda: hears(
            system.uri, ids("en", say.system_greeting("unavailable"), "leave_message", "beep")
        ),
        lambda: hears(
            numbered.uri,
            ids("fr", say.system_greeting("unavailable", numbered.number), "leave_message", "beep"),
        ),
        lambda: hears(
            named.uri,
            [named_path, *ids("en", say.after_name("unavailable"), "leave_message", "beep")],
        ),
        lambda: hears(
            nameless.uri,
            ids("en", say.system_greeting("unavailable", nameless.number), "leave_message", "beep"),
        ),
    )
    diverted = {"Diversion": f"<sip:{own.number}@relais.local>;reason=user-busy"}

    def skips() -> None:
        call = phone.call(own.uri)
        call.wait_answered()
        call.hear(f"{own_path}[0:1]")  # the greeting has started
        call.press("#")
        call.hear(*beep_en)
        call.hangup()
        assert call.not_heard(f"{own_path}[2:]", since=0)  # its end never played

    def full_mailbox() -> None:
        call = phone.call(full.uri)
        call.wait_answered()
        call.hear(*ids("en", "mailbox_full", "goodbye"))
        call.wait_ended()
        # The last prompt is heard to its end before the hang-up (pjmedia's playlist drops
        # the last partial block of its last file; switch.media pads every playlist).
        assert not call.not_heard("en/goodbye[0.4:]", since=0)

    together(
        lambda: hears(f"sip:*98@{ivr.target}", [busy_path, *beep_en], **diverted),
        lambda: hears(
            away.uri, ids("fr", say.system_greeting("absent"), "leave_message") + beep_fr
        ),
        skips,
        full_mailbox,
    )
    assert full.call_log() == [("missed", "voicemail")]
    assert system.call_log() == [("missed", "abandoned")]  # hung up after the beep
    assert system.messages() == [] and own.messages() == []


def review_menu_rerecord_urgent_private_listen_and_send(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    line = subscriber(ivr, "en")
    first = speech("This is my first try, please ignore it.")
    second = speech("Hi, it is Paul. The meeting moves to Thursday at ten.")
    call = phones.caller(CALLER).call(line.uri)
    call.wait_answered()
    call.hear(*ids("en", "leave_message", "beep"))
    call.say(first)
    call.press("#")
    menu = say.menu(say.deposit_menu(urgent=False, private=False))
    call.hear(*ids("en", menu[:4]))
    call.press("3")  # record again
    call.hear(*ids("en", "beep"))
    call.say(second)
    call.press("#")
    call.hear(*ids("en", menu[:4]))
    call.press("4")
    call.hear(*ids("en", "urgent_on", say.menu(say.deposit_menu(urgent=True, private=False))[:4]))
    call.press("5")
    call.hear(*ids("en", "private_on"))
    call.press("2")  # listen: the second take
    call.hear(str(second))
    call.press("1", info=True)  # send, as SIP INFO
    call.hear(*ids("en", "message_sent", "goodbye"))
    call.wait_ended()
    [m] = line.messages()
    assert (m.urgent, m.private, m.caller_number) == (True, True, CALLER)
    stored = load_wav(Path(line.path(m))).astype(np.float64)
    assert contains(stored, second) and not contains(stored, first)  # the second take
    assert line.event_types()[-3:] == ["call.missed", "message.deposited", "mailbox.counts"]


def too_short_is_discarded_and_hanging_up_after_recording_sends(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    short = subscriber(ivr, "fr")
    kept = subscriber(ivr, "en")
    phone = phones.caller(CALLER)

    def too_short() -> None:
        call = phone.call(short.uri)
        call.wait_answered()
        call.hear(*ids("fr", "leave_message", "beep"))
        call.say(speech("Oui", "fr"))
        call.press("#")
        call.hear(*ids("fr", "message_too_short", "record_message", "beep"))
        call.hangup()

    def hang_up_in_the_menu() -> None:
        call = phone.call(kept.uri)
        call.wait_answered()
        call.hear(*ids("en", "leave_message", "beep"))
        call.say(speech("Call me back when you can, thanks."))
        call.press("#")
        call.hear(*ids("en", say.menu(say.deposit_menu(urgent=False, private=False))[:2]))
        call.hangup()

    together(too_short, hang_up_in_the_menu)
    assert short.messages() == []
    assert ivr.wait_for(lambda: short.call_log()) == [("missed", "abandoned")]
    [m] = ivr.wait_for(lambda: kept.messages())
    assert 1.5 < m.duration_seconds < 4.0
    assert kept.call_log() == [("missed", "voicemail")]


def test_sipp_keys_from_dtmf_pcaps_and_silence_ending_the_recording(
    ivr: SwitchUnderTest, work: Path
) -> None:
    line = subscriber(ivr, "en")
    caller = ivr.sipp(
        "caller",
        "uac_ivr_deposit.xml",
        workdir=work,
        service=line.number,
        timeout=60,
        greeting_ms=5500,
        keys_ms=7000 + 7500,
        **{"from": f'"Sipp Caller" <sip:{CALLER}@127.0.0.1>'},
    )
    assert caller.run() == 0, caller.describe() + ivr.tail()
    [m] = line.messages()
    assert m.urgent and not m.private
    assert 6.0 < m.duration_seconds < 7.3  # the 7 s of speech; the 5 s of silence were cut


def inband_dtmf_and_the_tone_is_not_kept(ivr: SwitchUnderTest, phones: Phones) -> None:
    line = subscriber(ivr, "en")
    words = speech("Please call the garage about the car.")
    call = phones.caller(CALLER).call(line.uri)
    call.wait_answered()
    call.hear(*ids("en", "leave_message", "beep"))
    call.say(words)
    call.tones("#")
    call.hear(*ids("en", say.menu(say.deposit_menu(urgent=False, private=False))[:4]))
    call.tones("1")
    call.hear(*ids("en", "message_sent", "goodbye"))
    call.wait_ended()
    [m] = line.messages()
    stored = load_wav(Path(line.path(m)))
    assert analysis.detect_dtmf(stored) == ""
    assert abs(m.duration_seconds - len(read_wav(words)) / 8000) < 0.6


def test_review_menu_too_short_hang_up_and_inband_keys(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    """Three independent scenarios at once (4 calls: what the worker and the phones hold)."""
    together(
        lambda: review_menu_rerecord_urgent_private_listen_and_send(ivr, phones),
        lambda: too_short_is_discarded_and_hanging_up_after_recording_sends(ivr, phones),
        lambda: inband_dtmf_and_the_tone_is_not_kept(ivr, phones),
    )


def test_low_disk_space_tells_the_caller_and_logs_a_missed_call(
    tmp_path_factory: pytest.TempPathFactory, phones: Phones
) -> None:
    """Below mailbox.min_free_mb of free space (here: more than any disk has), a caller hears
    that no message can be taken now, nothing is recorded, and the call is logged missed."""
    tmp = tmp_path_factory.mktemp("low-space")
    env = {"RELAIS_PROMPTS_DIR": str(PROMPTS), "RELAIS_MAILBOX__MIN_FREE_MB": str(10**12)}
    with run_worker(tmp, env) as sut:
        line = subscriber(sut, "en")
        call = phones.caller("6135554321").call(line.uri)
        call.wait_answered()
        call.hear(*ids("en", "cannot_take_message", "goodbye"))
        call.wait_ended()
        sut.wait_for(lambda: line.call_log() == [("missed", "voicemail")])
        assert line.messages() == []
        assert sut.log is not None
        assert "low disk space" in sut.log.read_text()
        # The installation says so once, whatever the calls (worker 0, at its start).
        with sut.store.read() as s:
            spaces = [
                e
                for e in map(parse_event, s.scalars(select(OutboxEvent.payload)).all())
                if isinstance(e, StorageSpace)
            ]
        assert [(e.state, e.threshold_mb) for e in spaces] == [("low", 10**12)]


def test_with_the_tap_a_call_writes_no_listen_file(ivr: SwitchUnderTest, phones: Phones) -> None:
    """relais' pjproject build listens to callers with a tap on the bridge (switch/tap.c): the
    caller's audio is looked at as it comes, nothing of it is written but the message."""
    from switch.worker import listen_folder

    need_tap()
    folder = listen_folder(load_settings(storage_root=ivr.root)) / "w0"
    line = subscriber(ivr, "en")
    call = phones.caller("6135554325").call(line.uri)
    call.wait_answered()
    call.hear(*ids("en", say.system_greeting("unavailable"), "leave_message"))
    assert [p for p in folder.glob("*.wav") if not p.name.startswith("pad-")] == []
    call.hangup()
    call.wait_ended()


def test_a_calls_listen_file_lives_in_memory_as_long_as_the_call(
    tmp_path_factory: pytest.TempPathFactory, phones: Phones
) -> None:
    """Listening through files (listen = "files"; the only way with the stock wheel), what the
    caller sends is written, for in-band keys and silence, to a listen file in the
    installation's memory folder (when /dev/shm has room: tests/unit/test_listen_folder.py),
    deleted as the call ends; a stopped worker leaves nothing there."""
    from switch.worker import MEMORY_MIN_FREE, MEMORY_ROOT, listen_folder

    tmp = tmp_path_factory.mktemp("listen")
    with run_worker(tmp, {"RELAIS_PROMPTS_DIR": str(PROMPTS), "RELAIS_LISTEN": "files"}) as sut:
        folder = listen_folder(load_settings(storage_root=sut.root)) / "w0"
        in_memory = folder.parent.parent == MEMORY_ROOT
        assert in_memory or shutil.disk_usage(MEMORY_ROOT).free < MEMORY_MIN_FREE
        line = subscriber(sut, "en")

        def listening() -> list[Path]:
            return [p for p in folder.glob("*.wav") if not p.name.startswith("pad-")]

        call = phones.caller("6135554324").call(line.uri)
        call.wait_answered()
        call.hear(*ids("en", say.system_greeting("unavailable"), "leave_message"))
        [listen] = listening()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # callers' audio
        assert listen.stat().st_size > 44  # the caller's audio so far
        assert not in_memory or not (sut.root / "spool" / "listen").exists()  # not on disk
        call.hangup()
        call.wait_ended()
        sut.wait_for(lambda: listening() == [])
    assert not folder.exists()
    assert not in_memory or not folder.parent.exists()


def test_a_full_disk_is_told_to_callers_and_the_worker_keeps_reporting(
    tmp_path_factory: pytest.TempPathFactory, phones: Phones
) -> None:
    """The storage root on a small file system (a 2 MB tmpfs), filled up; the store lives
    elsewhere. A caller hears that no message can be taken (not a silent hang-up), the call is
    logged missed, and the worker's status channel outlives ENOSPC."""
    tmp = tmp_path_factory.mktemp("full-disk")
    with small_filesystem(tmp / "small") as small:
        env = {
            "RELAIS_PROMPTS_DIR": str(PROMPTS),
            "RELAIS_STORAGE_ROOT": str(small),
            "RELAIS_MAILBOX__MIN_FREE_MB": "0",  # no threshold: the disk itself is full
        }
        with run_worker(tmp, env) as sut:
            line = subscriber(sut, "en")
            status = small / "run" / "switch-0.json"
            sut.wait_for(status.exists)
            filler = fill(small)
            assert shutil.disk_usage(small).free == 0
            call = phones.caller("6135554322").call(line.uri)
            call.wait_answered()
            call.hear(*ids("en", "cannot_take_message", "goodbye"))
            call.wait_ended()
            sut.wait_for(lambda: line.call_log() == [("missed", "voicemail")])
            assert line.messages() == []
            time.sleep(2.5)  # the status channel meets ENOSPC at least twice
            filler.unlink()
            before = json.loads(status.read_text())["updated_at"]
            sut.wait_for(lambda: json.loads(status.read_text())["updated_at"] > before)


@pytest.mark.parametrize("listen", ["tap", "files"])
def test_a_disk_that_fills_during_a_recording_keeps_what_was_written(
    tmp_path_factory: pytest.TempPathFactory, phones: Phones, listen: str
) -> None:
    """The storage root (a 2 MB tmpfs) fills up a few seconds into a message: the caller's
    call is not cut short, the call is logged, and the part written before the disk filled is
    kept in the spool, then delivered as a message once space is back (the worker's next
    start), with the voice it holds. Listening through files, the call's listen file is on
    the same disk."""
    if listen == "tap":
        need_tap()
    tmp = tmp_path_factory.mktemp("fills-up")
    talk = speech(
        "Hello, this is the building manager. The water will be shut off tomorrow morning "
        "from eight to noon for repairs on the third floor. Please call me back if you have "
        "any question about it. Thank you and have a good day."
    )
    with small_filesystem(tmp / "small") as small:
        env = {
            "RELAIS_PROMPTS_DIR": str(PROMPTS),
            "RELAIS_STORAGE_ROOT": str(small),
            "RELAIS_MAILBOX__MIN_FREE_MB": "0",
            "RELAIS_LISTEN": listen,
            "RELAIS_LISTEN_DIR": str(small / "spool" / "listen"),  # not in memory: on the disk
        }
        with run_worker(tmp, env) as sut:
            line = subscriber(sut, "en")
            sut.wait_for((small / "run" / "switch-0.json").exists)
            # 4 s of the message and the listen file's greeting and 4 s; or 7 s of the message
            filler = fill(small, leave=250_000 if listen == "files" else 112_000)
            call = phones.caller("6135554323").call(line.uri)
            call.wait_answered()
            call.hear(*ids("en", say.system_greeting("unavailable"), "leave_message"))
            call.hear(*ids("en", "beep"))
            call.say(talk)
            assert shutil.disk_usage(small).free < 16_000  # the disk did fill up
            assert not call.ended  # the caller was not cut off
            # The call's listen file (in-band keys, on the same disk) is deleted as the call
            # ends, which frees room; held open here, its space stays taken, so the disk is
            # still full when the message is stored (whichever of the two comes first).
            listening = (small / "spool" / "listen").rglob("*.wav")
            held = [open(f, "rb") for f in listening if not f.name.startswith("pad-")]  # noqa: SIM115
            assert bool(held) is (listen == "files"), "listen files and the tap mixed up"
            try:
                call.hangup()
                call.wait_ended()
                sut.wait_for(lambda: line.call_log() == [("missed", "voicemail")])
                assert line.messages() == []  # no room to store it yet ...
                kept = list((small / "spool").rglob("*.json"))
                assert len(kept) == 1 and kept[0].with_suffix(".wav").stat().st_size > 64_000
            finally:
                for f in held:
                    f.close()
        filler.unlink()
        with run_worker(tmp, env, port=sut.port) as again:  # ... its next start delivers it
            again.wait_for(lambda: len(line.messages()) == 1)
            [m] = line.messages()
            assert m.duration_seconds >= 2.0
            assert line.call_log() == [("missed", "voicemail")]  # logged once
            assert list((small / "spool").rglob("*.json")) == []
