"""Typed events: topics, JSON round trips, strict parsing; MQTT URLs never show passwords."""

from __future__ import annotations

import pytest

from events.events import (
    EVENT_TYPES,
    MailboxAccessed,
    MessageDeposited,
    OutdialRequest,
    OutdialResult,
    parse_event,
)
from events.mqtt import MqttAddress, parse_mqtt_url
from tests.support.text import exact, starts

LINE = "6135550100"


def test_every_event_type_owns_a_topic_under_its_line() -> None:
    topics = {t: cls.topic_fmt.format(line=LINE) for t, cls in EVENT_TYPES.items()}
    assert topics["message.deposited"] == f"relais/{LINE}/message/deposited"
    assert topics["mailbox.accessed"] == f"relais/{LINE}/mailbox/accessed"
    assert topics["outdial.request"] == f"relais/{LINE}/outdial/request"
    assert topics["outdial.result"] == f"relais/{LINE}/outdial/result"
    assert len(set(topics.values())) == len(topics)


@pytest.mark.parametrize(
    "event",
    [
        MessageDeposited(
            line=LINE,
            message_id=7,
            kind="voice",
            urgent=True,
            private=False,
            caller_number="6135550142",
            caller_name="Élise Côté",
            received_at="2026-03-08T07:30:00+00:00",
            duration_seconds=12.5,
        ),
        MailboxAccessed(line=LINE, via="phone"),
        OutdialRequest(
            line=LINE,
            job_id=3,
            attempt=1,
            number="6135550199",
            mode="notify",
            message_id=7,
            language="fr",
            dtmf="",
            ring_seconds=30,
            expires_at="2026-03-08T07:33:00+00:00",
        ),
        OutdialResult(line=LINE, job_id=3, attempt=1, result="busy"),
    ],
)
def test_json_round_trip_gives_the_same_event(event: object) -> None:
    assert parse_event(event.to_json()) == event  # type: ignore[attr-defined]
    assert parse_event(event.payload()) == event  # type: ignore[attr-defined]


def test_parse_event_refuses_what_is_not_a_complete_known_event() -> None:
    with pytest.raises(ValueError, match=starts("event payload is not JSON")):
        parse_event(b"\xff")
    with pytest.raises(ValueError, match=exact("event payload is not a JSON object")):
        parse_event(b"[1]")
    with pytest.raises(ValueError, match=exact("unknown event type 'x.y'")):
        parse_event({"type": "x.y"})
    with pytest.raises(ValueError, match=exact("mailbox.accessed event without 'via'")):
        parse_event({"type": "mailbox.accessed", "line": LINE})
    with pytest.raises(
        ValueError, match=exact("mailbox.accessed event: 'at' is not an ISO 8601 time")
    ):
        parse_event({"type": "mailbox.accessed", "line": LINE, "via": "phone", "at": "soon"})
    # Extra keys from a newer producer are ignored.
    e = parse_event({"type": "mailbox.accessed", "line": LINE, "via": "portal", "new": 1})
    assert e == MailboxAccessed(line=LINE, via="portal", event_id=e.event_id, at=e.at)


def test_mqtt_urls() -> None:
    a = parse_mqtt_url("mqtt://relay:s3cret%21@broker.example:1884")
    assert a == MqttAddress("broker.example", 1884, "relay", "s3cret!", False)
    assert str(a) == "mqtt://relay@broker.example:1884"
    assert "s3cret" not in repr(a)
    assert parse_mqtt_url("mqtts://b.example").port == 8883
    assert parse_mqtt_url("mqtt://127.0.0.1").port == 1883
    with pytest.raises(ValueError, match=exact("the MQTT URL must start with mqtt:// or mqtts://")):
        parse_mqtt_url("http://x")
    with pytest.raises(ValueError, match=exact("the MQTT URL has no host")):
        parse_mqtt_url("mqtt://:1883")
    with pytest.raises(ValueError, match=exact("the MQTT URL has an invalid port")):
        parse_mqtt_url("mqtt://h:99999")
