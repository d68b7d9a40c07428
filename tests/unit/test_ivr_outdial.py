"""The outdial announcement dialog (ivr/outdial.py) and the switch's outdial request checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events.events import MailboxCounts, OutdialRequest, parse_event
from ivr.dialog import (
    DigitReceived,
    Exit,
    Hangup,
    HungUp,
    Play,
    PlayFinished,
    Started,
    StartTimer,
    TimerFired,
)
from ivr.machine import HANGUP_GRACE, items
from ivr.outdial import KEY_TIMEOUT, MAX_MISSES, Announce, AnnounceState
from media import say
from switch.outdial import _expired

M = Announce()


def announcement(lang: str = "en", **kind: bool) -> tuple[str, ...]:
    return items(lang, say.outdial_announcement(**kind))


def test_the_announcement_is_said_in_the_requested_language_and_kind() -> None:
    s, actions = M.step(AnnounceState(phase="new", lang="fr", urgent=True), Started())
    [play] = actions
    assert isinstance(play, Play) and play.files == announcement("fr", urgent=True)
    assert "fr/outdial_new_urgent_message" in play.files
    assert s.phase == "announce"


def test_one_ends_the_announcement_for_the_login() -> None:
    s, _ = M.step(AnnounceState(phase="new", lang="en"), Started())
    s, actions = M.step(s, DigitReceived("1", "rfc4733"))
    assert s.login and actions == [Exit()]


def test_silence_repeats_the_announcement_then_says_goodbye_and_hangs_up() -> None:
    s, _ = M.step(AnnounceState(phase="new", lang="en"), Started())
    for _ in range(MAX_MISSES - 1):
        s, actions = M.step(s, PlayFinished(False, s.io.tag))
        [timer] = actions
        assert isinstance(timer, StartTimer) and timer.seconds == KEY_TIMEOUT
        s, actions = M.step(s, TimerFired(timer.name))
        assert isinstance(actions[-1], Play) and actions[-1].files == announcement()
    s, actions = M.step(s, PlayFinished(False, s.io.tag))
    s, actions = M.step(s, TimerFired(s.io.timer))
    assert isinstance(actions[-1], Play) and actions[-1].files == ("en/goodbye",)
    s, actions = M.step(s, PlayFinished(False, s.io.tag))
    [grace] = actions
    assert isinstance(grace, StartTimer) and grace.seconds == HANGUP_GRACE
    s, actions = M.step(s, TimerFired(grace.name))
    assert actions == [Hangup(), Exit()] and not s.login


def test_another_key_repeats_the_announcement_and_a_hangup_exits() -> None:
    s, _ = M.step(AnnounceState(phase="new", lang="en"), Started())
    s, actions = M.step(s, DigitReceived("5", "rfc4733"))
    assert isinstance(actions[-1], Play) and s.misses == 1
    s, actions = M.step(s, HungUp())
    assert actions == [Exit()] and not s.login


def request(expires_at: str) -> OutdialRequest:
    return OutdialRequest(
        line="6135550100",
        job_id=1,
        attempt=1,
        number="6135550199",
        mode="notify",
        message_id=None,
        language="en",
        dtmf="",
        ring_seconds=30,
        expires_at=expires_at,
    )


def test_expired_or_unreadable_requests_are_expired() -> None:
    now = datetime(2026, 6, 3, 14, 30, tzinfo=UTC)
    assert not _expired(request((now + timedelta(seconds=5)).isoformat()), now)
    assert _expired(request((now - timedelta(seconds=5)).isoformat()), now)
    assert _expired(request("soon"), now)


def test_counts_payloads_without_origin_still_parse() -> None:
    event = MailboxCounts(
        line="6135550100",
        voice_new=1,
        voice_old=0,
        voice_urgent_new=0,
        voice_urgent_old=0,
        fax_new=0,
        fax_old=0,
        used_seconds=3.0,
        quota_seconds=3600,
        origin="switch",
    )
    payload = event.payload()
    assert parse_event(payload) == event
    del payload["origin"]
    older = parse_event(payload)
    assert isinstance(older, MailboxCounts) and older.origin == ""
