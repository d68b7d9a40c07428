"""A received fax becomes a fax message (SPEC S11): TIFF-F + PDF files, counts, events, call log,
the PDF attached to e-mails; no page is a missed call; a corrupt file is refused quietly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.services import DepositContext, Voicemail
from media import fax, faxdoc
from notify.notifier import message_attachment
from store import repository
from store.files import FileStore
from store.models import CallLogEntry, Message, OutboxEvent
from store.session import Store
from tests.support.faxes import document, similarity

LINE = "6135550100"


@pytest.fixture
def service(store: Store, tmp_path: Path) -> Voicemail:
    with store.transaction() as s:
        repository.create_account(
            s, number=LINE, name="A", password="motdepasse1", pin="4826", language="en"
        )
    return Voicemail(store, FileStore(tmp_path / "var"), tmp_path / "spool")


def ctx(call_id: str) -> DepositContext:
    return DepositContext(
        mailbox=LINE,
        greeting="fax",
        caller_number="8195550142",
        caller_name=None,
        started_at=datetime.now(UTC).isoformat(),
        call_id=call_id,
    )


def received(tmp_path: Path, pages: int) -> tuple[Path, Path]:
    sent = document(tmp_path / "sent.tif", pages)
    got = tmp_path / "spool" / "fax-test.tif"
    got.parent.mkdir(parents=True, exist_ok=True)
    fax.exchange(fax.FaxTerminal(send_from=sent, calling=True), fax.FaxTerminal(receive_to=got))
    return sent, got


def events(store: Store) -> list[dict[str, object]]:
    with store.read() as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        return [r.payload if isinstance(r.payload, dict) else json.loads(r.payload) for r in rows]


def test_a_received_fax_is_stored_with_its_pdf_and_fires_what_faxes_fire(
    service: Voicemail, store: Store, tmp_path: Path
) -> None:
    sent, got = received(tmp_path, 2)
    message_id = service.deliver_fax(
        ctx("c1"), got, complete=True, remote_ident="+1 819 555 0142", bit_rate=14400
    )
    assert message_id is not None and not got.exists()
    with store.read() as s:
        m = s.get(Message, message_id)
        assert m is not None
        assert (m.kind, m.pages, m.fax_status, m.fax_bit_rate) == ("fax", 2, "complete", 14400)
        assert (m.fax_remote_ident, m.caller_number, m.origin) == (
            "+1 819 555 0142",
            "8195550142",
            "call",
        )
        tif = service.files.path(m.file_path)
        pdf = tif.with_suffix(".pdf")
        assert m.size_bytes == tif.stat().st_size + pdf.stat().st_size
        assert m.duration_seconds == pytest.approx(m.size_bytes / 16000, abs=0.001)
        counts = repository.mailbox_counts(s, LINE)
        assert (counts.fax_new, counts.voice_new) == (1, 0)
        assert counts.used_seconds == pytest.approx(m.duration_seconds)
        attachment = message_attachment(service.files, m, "America/Toronto")
        log = s.scalars(select(CallLogEntry)).all()
        assert [(c.direction, c.disposition) for c in log] == [("missed", "voicemail")]
    for page, want in zip(faxdoc.page_images(tif), faxdoc.page_images(sent), strict=True):
        assert similarity(page, want) > 0.98
    assert attachment.content_type == "application/pdf"
    assert attachment.filename.endswith(".pdf") and attachment.data.startswith(b"%PDF")
    deposited = [e for e in events(store) if e["type"] == "message.deposited"]
    assert [(e["kind"], e["pages"], e["message_id"]) for e in deposited] == [("fax", 2, message_id)]
    counts_events = [e for e in events(store) if e["type"] == "mailbox.counts"]
    assert counts_events[-1]["fax_new"] == 1


def test_a_fax_cut_short_is_kept_as_partial(
    service: Voicemail, store: Store, tmp_path: Path
) -> None:
    _, got = received(tmp_path, 1)
    message_id = service.deliver_fax(ctx("c2"), got, complete=False)
    with store.read() as s:
        m = s.get(Message, message_id)
        assert m is not None and (m.pages, m.fax_status, m.fax_remote_ident) == (1, "partial", None)


def test_no_page_or_a_corrupt_file_is_a_missed_call(
    service: Voicemail, store: Store, tmp_path: Path
) -> None:
    assert service.deliver_fax(ctx("c3"), tmp_path / "spool" / "never.tif", complete=False) is None
    corrupt = tmp_path / "spool" / "corrupt.tif"
    corrupt.parent.mkdir(parents=True, exist_ok=True)
    corrupt.write_bytes(b"II*\x00" + b"\xff" * 300)
    assert service.deliver_fax(ctx("c4"), corrupt, complete=True) is None
    assert not corrupt.exists()
    with store.read() as s:
        assert s.scalars(select(Message)).all() == []
        log = s.scalars(select(CallLogEntry).order_by(CallLogEntry.id)).all()
        assert [(c.direction, c.disposition, c.call_id) for c in log] == [
            ("missed", "abandoned", "c3"),
            ("missed", "abandoned", "c4"),
        ]


def test_a_fax_whose_worker_was_killed_is_recovered_when_it_starts_again(
    service: Voicemail, store: Store, tmp_path: Path
) -> None:
    """The receiver wrote two pages when the worker died (SIGKILL: no end of call, no
    delivery): the worker's next start delivers them as a partial fax; a fax whose file never
    got a page is a missed call; a fax file with no sidecar (its mailbox unknown) is removed."""
    sent = document(tmp_path / "sent.tif", 2)
    path = service.prepare_fax(ctx("killed"))
    assert path.with_suffix(".json").is_file()
    fax.exchange(fax.FaxTerminal(send_from=sent, calling=True), fax.FaxTerminal(receive_to=path))
    empty = service.prepare_fax(ctx("no-page"))  # answered, killed before the first page
    stray = tmp_path / "spool" / "fax-stray.tif"
    stray.write_bytes(path.read_bytes())
    restarted = Voicemail(store, FileStore(tmp_path / "var"), tmp_path / "spool")
    assert restarted.recover_orphans() == 1
    with store.read() as s:
        [m] = s.scalars(select(Message)).all()
        assert (m.kind, m.pages, m.fax_status, m.call_id) == ("fax", 2, "partial", "killed")
        log = s.scalars(select(CallLogEntry).order_by(CallLogEntry.id)).all()
        assert {(c.call_id, c.direction, c.disposition) for c in log} == {
            ("killed", "missed", "voicemail"),
            ("no-page", "missed", "abandoned"),
        }
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == []
    assert not empty.exists()
    assert restarted.recover_orphans() == 0  # nothing twice


def test_a_fax_delivered_at_the_end_of_its_call_leaves_no_sidecar(
    service: Voicemail, tmp_path: Path
) -> None:
    path = service.prepare_fax(ctx("ended"))
    fax.exchange(
        fax.FaxTerminal(send_from=document(tmp_path / "sent.tif", 1), calling=True),
        fax.FaxTerminal(receive_to=path),
    )
    assert service.deliver_fax(ctx("ended"), path, complete=True) is not None
    assert list((tmp_path / "spool").iterdir()) == []
