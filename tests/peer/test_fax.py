"""Faxes over real SIP (SPEC S11): a test phone's call carries a spandsp fax transmitter; the
worker receives with T.30 over G.711 and stores TIFF-F + PDF as a fax message."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from media import faxdoc
from media.fax import Modem
from store.models import Line, Message
from tests.support.faxes import (
    FaxSender,
    document,
    pdf_images,
    pdf_pages,
    receiver_report,
    similarity,
    wait_for,
    worker_log,
)
from tests.support.ivr import Subscriber, speech, subscriber
from tests.support.phone import Phones, write_wav
from tests.support.sip import SwitchUnderTest

pytestmark = pytest.mark.peer

CALLER = "8195550142"
_fax_numbers = itertools.count(8197770001)


def with_fax_number(sub: Subscriber) -> str:
    number = str(next(_fax_numbers))
    with sub.sut.store.transaction() as s:
        line = s.get(Line, sub.number)
        assert line is not None
        line.fax_number = number
    return number


def report(outcome: object, sender: FaxSender, sut: SwitchUnderTest) -> str:
    """A failed transfer, whole (a tuple in an assertion is cut short by pytest)."""
    return f"{outcome}\nsender: {sender.stats}\nreceiver: {receiver_report(sut.log)}"


def one_fax(sub: Subscriber, timeout: float = 30.0) -> Message:
    faxes = wait_for(
        lambda: [m for m in sub.messages() if m.kind == "fax"], timeout, "a fax is stored"
    )
    assert len(faxes) == 1
    return faxes[0]


def test_a_fax_to_the_fax_number_arrives_as_tiff_and_pdf(
    ivr: SwitchUnderTest, phones: Phones, tmp_path: Path
) -> None:
    sub = subscriber(ivr, "en")
    number = with_fax_number(sub)
    sent = document(tmp_path / "sent.tif", 3)
    call = phones.caller(CALLER).call(f"sip:{number}@{ivr.target}")
    with FaxSender(call, sent, modems=Modem.V29) as sender:
        outcome = sender.wait_done()
    assert outcome.ok and outcome.pages_tx == 3, report(outcome, sender, ivr)
    # The worker answers as the line's number (its CSI). The CSI is an HDLC frame of its own
    # before the DIS: when a loaded machine damages it, its CRC drops it and the call goes on
    # with the DIS, the sender then showing no ident, as a fax machine on a noisy line does
    # (seen once in a full run). That the CSI carries the terminal's ident is
    # tests/unit/test_media_fax.py; here, that the worker gives the line's number, and that a
    # CSI the sender got carries it.
    assert f"fax receiver started (ident '{sub.number}')" in worker_log(ivr.log)
    # What the network did to the call's audio is in the fax's log line (for a failed fax),
    # and the worker's jitter buffer, fixed, dropped no frame to shrink: pjmedia's progressive
    # discard made a 10 ms hole in the modem's signal 7 times in every call, and more after
    # any late packet (the failures of this test).
    report_line = receiver_report(ivr.log, 1)
    assert re.search(r"fax ended: .*; rtp in \d+ packets, \d+ lost", report_line)
    assert re.search(r"; jitter buffer 0 lost, 0 discarded, ", report_line), report_line
    assert outcome.remote_ident in (sub.number, ""), outcome
    call.wait_ended()
    fax = one_fax(sub)
    assert (fax.pages, fax.fax_status, fax.folder, fax.heard) == (3, "complete", "inbox", False)
    assert fax.caller_number == CALLER
    assert fax.fax_remote_ident == "+1 819 555 0142"
    # The rate both ends trained at: V.29's 9600 bit/s, or its 7200 fallback when a training
    # failed (a loaded machine does that now and then, as a noisy line does).
    assert fax.fax_bit_rate == outcome.bit_rate and outcome.bit_rate in (9600, 7200)
    assert fax.file_path.endswith(".tif") and fax.size_bytes > 0
    assert fax.duration_seconds == pytest.approx(fax.size_bytes / 16000, abs=0.01)
    tif = sub.sut.root / fax.file_path
    pdf = tif.with_suffix(".pdf")
    assert len(faxdoc.tiff_pages(tif)) == 3
    sizes = pdf_pages(pdf, tmp_path)
    assert [(round(w / 72, 2), round(h / 72, 2)) for w, h in sizes] == [(8.47, 11.0)] * 3
    want = faxdoc.page_images(sent)
    for got, page in zip(pdf_images(pdf, tmp_path), want, strict=True):
        assert similarity(got, page) > 0.95
    assert similarity(pdf_images(pdf, tmp_path)[0], want[1]) < 0.8
    assert ("missed", "voicemail") in sub.call_log()
    events = sub.event_types()
    assert "message.deposited" in events and "mailbox.counts" in events


def test_a_fax_heard_during_the_greeting_is_received(
    ivr: SwitchUnderTest, phones: Phones, tmp_path: Path
) -> None:
    sub = subscriber(ivr, "en")
    sent = document(tmp_path / "sent.tif", 1)
    call = phones.caller(CALLER).call(sub.uri)
    # CNG from the start, as fax machines do
    with FaxSender(call, sent, modems=Modem.V29) as sender:
        outcome = sender.wait_done()
    assert outcome.pages_tx == 1, report(outcome, sender, ivr)
    fax = one_fax(sub)
    assert (fax.pages, fax.fax_status) == (1, "complete")
    got = pdf_images(sub.sut.root / fax.file_path.replace(".tif", ".pdf"), tmp_path)
    assert similarity(got[0], faxdoc.page_images(sent)[0]) > 0.95
    assert [m.kind for m in sub.messages()] == ["fax"]  # no voice message from the fax tones


def test_a_sender_that_hangs_up_after_page_one_leaves_a_partial_fax(
    ivr: SwitchUnderTest, phones: Phones, tmp_path: Path
) -> None:
    sub = subscriber(ivr, "en")
    number = with_fax_number(sub)
    sent = document(tmp_path / "sent.tif", 3)
    call = phones.caller(CALLER).call(f"sip:{number}@{ivr.target}")
    with FaxSender(call, sent, modems=Modem.V29) as sender:
        sender.wait_pages(1)
        call.hangup()
        call.wait_ended()
    fax = one_fax(sub)
    assert (fax.pages, fax.fax_status) == (1, "partial")
    tif = sub.sut.root / fax.file_path
    assert len(faxdoc.tiff_pages(tif)) == 1
    got = pdf_images(tif.with_suffix(".pdf"), tmp_path)
    assert len(got) == 1 and similarity(got[0], faxdoc.page_images(sent)[0]) > 0.95


def test_a_voice_caller_is_never_taken_for_a_fax(ivr: SwitchUnderTest, phones: Phones) -> None:
    sub = subscriber(ivr, "en")
    call = phones.caller(CALLER).call(sub.uri)
    call.wait_answered()
    call.say(speech("Hello, this is a message about the meeting at eleven hundred hours."))
    rng = np.random.default_rng(3)
    # A steady 1100 Hz whistle and noise are not a calling fax's CNG cadence either.
    t = np.arange(8000 * 3) / 8000
    whistle = (8000 * np.sin(2 * np.pi * 1100 * t)).astype(np.int16)
    noise = (rng.standard_normal(8000 * 2) * 2000).astype(np.int16)
    call.say(write_wav(Path(call.phones.workdir) / "whistle.wav", np.concatenate([whistle, noise])))
    call.hangup()
    call.wait_ended()
    messages = wait_for(lambda: sub.messages(), 30, "the voice message is stored")
    assert [m.kind for m in messages] == ["voice"]


def test_a_voice_caller_on_the_fax_number_is_a_missed_call_and_the_worker_lives_on(
    ivr: SwitchUnderTest, phones: Phones, tmp_path: Path
) -> None:
    sub = subscriber(ivr, "en")
    number = with_fax_number(sub)
    call = phones.caller(CALLER).call(f"sip:{number}@{ivr.target}")
    call.wait_answered()
    rng = np.random.default_rng(5)
    junk = (rng.integers(-32768, 32767, 8000 * 3)).astype(np.int16)  # not a modem signal
    call.say(write_wav(tmp_path / "junk.wav", junk))
    call.hangup()
    call.wait_ended()
    wait_for(lambda: ("missed", "abandoned") in sub.call_log(), 30, "a missed call is logged")
    assert sub.messages() == []
    # The worker still takes calls (and faxes) after that.
    test_call = phones.caller(CALLER).call(sub.uri)
    test_call.wait_answered()
    test_call.hangup()


def test_a_t38_reinvite_is_refused_and_the_call_stays_in_audio(
    ivr: SwitchUnderTest, tmp_path: Path
) -> None:
    """T.38 is future work: a gateway's T.38 re-INVITE is answered 488 (pjsua has no udptl
    stream); the G.711 call goes on and ends normally."""
    sub = subscriber(ivr, "en")
    number = with_fax_number(sub)
    gw = ivr.sipp("t38", "uac_t38_reinvite.xml", workdir=tmp_path, service=number, t38_answer=488)
    assert gw.run() == 0, (
        (gw.workdir / "t38.err").read_text() if (gw.workdir / "t38.err").exists() else ""
    )
    assert [m.status for m in gw.received(488)] == [488]
    wait_for(lambda: ("missed", "abandoned") in sub.call_log(), 30, "the call ended as missed")
