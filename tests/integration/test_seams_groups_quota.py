"""Seams: group phone codes made in the portal's contacts used by phone (send and forward to a
group code), and one measure of a full mailbox for the portal's storage warning and the phone's
"mailbox full" (SPEC S2, S5, S8)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from ivr.services import DepositContext
from store.models import Mailbox, Message
from tests.support.seams import (
    A_NUMBER,
    B_NUMBER,
    Both,
    both,
    speechlike,
    wav_bytes,
)

__all__ = ["both"]

MESSAGES = f"/api/v1/lines/{A_NUMBER}/messages"


def group(b: Both, code: str, *members: dict[str, str]) -> None:
    ids = []
    for m in members:
        r = b.api.post("/api/v1/contacts", json=m)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = b.api.post(
        "/api/v1/groups", json={"name": f"Group {code}", "phone_code": code, "members": ids}
    )
    assert r.status_code == 201, r.text


def test_a_portal_group_code_works_by_phone_as_in_the_portal(both: Both) -> None:
    group(
        both,
        "42",
        # Two numbers of this service: the member gets one copy, at the first of them
        # (business, mobile, home, other).
        {"first_name": "Marc", "home_phone": "1 613 555 0101", "mobile_phone": "(819) 555-0100"},
        {"first_name": "Ext", "mobile_phone": "418-555-0199"},  # no mailbox here: skipped
    )
    assert both.vm.resolve_destination(A_NUMBER, "42") == ("ok", (B_NUMBER,))
    assert both.vm.resolve_destination(A_NUMBER, "43") == ("error", "destination_refused")
    # Another account's phone cannot use A's codes.
    assert both.vm.resolve_destination(B_NUMBER, "42") == ("error", "destination_refused")

    mid = both.deposit()
    r = both.api.post(f"{MESSAGES}/{mid}/forward", json={"as": "voicemail", "to": ["42"]})
    assert r.status_code == 201, r.text
    in_portal = sorted(d["number"] for d in r.json()["delivered"])
    _, boxes = both.vm.resolve_destination(A_NUMBER, "42")
    assert both.vm.forward(A_NUMBER, mid, boxes) == 1
    with both.store.read() as s:
        rows = s.scalars(select(Message).where(Message.origin == "forwarded")).all()
        by_phone = sorted(m.line_number for m in rows if m.id not in _ids(r.json()))
    assert in_portal == by_phone == [B_NUMBER]


def _ids(body: dict[str, list[dict[str, int]]]) -> set[int]:
    return {d["message_id"] for d in body["delivered"]}


def _ctx() -> DepositContext:
    return DepositContext(
        mailbox=A_NUMBER,
        greeting="default",
        caller_number=None,
        caller_name=None,
        started_at=datetime.now(UTC).isoformat(),
        call_id="seam-full",
    )


def set_quota(b: Both, line: str, seconds: int) -> None:
    with b.store.transaction() as s:
        box = s.get(Mailbox, line)
        assert box is not None
        box.quota_seconds = seconds


def usage(b: Both) -> dict[str, float]:
    r = b.api.get(f"/api/v1/lines/{A_NUMBER}/usage")
    assert r.status_code == 200, r.text
    body: dict[str, float] = r.json()
    return body


def test_storage_warning_and_mailbox_full_use_one_measure(both: Both) -> None:
    set_quota(both, A_NUMBER, 6)
    first = both.deposit(seconds=3.0)
    assert not usage(both)["warning"] and not both.vm.open(A_NUMBER).box.almost_full
    both.deposit(seconds=2.6)
    u = usage(both)
    box = both.vm.open(A_NUMBER).box
    assert u["used_seconds"] == round(both.vm.counts(A_NUMBER).used_seconds, 3)
    assert u["warning"] and box.almost_full and not box.full

    # Deleted messages count until they are purged, on both sides.
    r = both.api.patch(f"{MESSAGES}/{first}", json={"folder": "deleted"})
    assert r.status_code == 200, r.text
    assert usage(both)["used_seconds"] == u["used_seconds"]
    both.deposit(seconds=1.5)
    assert usage(both)["percent"] == 100
    full = both.vm.open(A_NUMBER).box
    assert full.full
    setup, path = both.vm.prepare_deposit(_ctx())
    both.vm.discard(path)
    assert setup.full
    assert both.vm.resolve_destination(B_NUMBER, A_NUMBER) == ("error", "mailbox_full")
    b_api = both.api_as(B_NUMBER, "motdepasse-B1")
    r = b_api.post(
        f"/api/v1/lines/{B_NUMBER}/messages",
        files={"audio": ("rec.wav", wav_bytes(speechlike(2.0)), "audio/wav")},
        data={"to": A_NUMBER},
    )
    assert r.status_code == 422 and r.json()["fields"][0]["error"] == "mailbox-full"

    r = both.api.delete(f"{MESSAGES}/{first}")
    assert r.status_code == 204
    assert not both.vm.open(A_NUMBER).box.full and usage(both)["percent"] < 100
    assert both.vm.resolve_destination(B_NUMBER, A_NUMBER) == ("ok", (A_NUMBER,))
