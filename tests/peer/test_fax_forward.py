"""Forward as fax over real SIP (SPEC S11, issue 13 part 3): a line's fax is forwarded from the
portal's JSON API as a fax to a second line's fax number. Every step is the product's: the
portal queues a fax job with the cover page, `relais notifier` asks for the call
(outdial.request, mode fax) through `relais bus`, switch worker 0 dials it (its trunk is the
worker itself, so the call comes back in on the fax number) and sends T.30 over G.711, the same
worker receives it for the second line, and the result comes back per destination."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from media import faxdoc
from portal.app import create_app
from store.files import FileStore
from store.models import Line, Message, NotificationJob
from tests.peer.test_switch_outdial_notifier import start
from tests.support.deposit import deposit
from tests.support.faxes import document, pdf_images, similarity, wait_for
from tests.support.phone import PROMPTS
from tests.support.portal import Clock, bearer, make_settings, sign_in
from tests.support.ports import free_port
from tests.support.sip import SwitchUnderTest, free_ports, run_worker, stop_process

pytestmark = pytest.mark.peer

FAX_NUMBER = "8197770451"


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[SwitchUnderTest]:
    """Worker 0 whose trunk is itself, with `relais bus` and `relais notifier` on its store."""
    port = free_ports(1)
    settings = {
        "RELAIS_TRUNK_URI": f"sip:127.0.0.1:{port}",
        "RELAIS_MQTT_EMBEDDED_PORT": str(free_port()),
        "RELAIS_PROMPTS_DIR": str(PROMPTS),
    }
    with run_worker(tmp_path, settings, port=port) as sut:
        procs = [
            start(["bus"], sut.env, tmp_path / "bus.log"),
            start(["notifier"], sut.env, tmp_path / "notifier.log"),
        ]
        try:
            yield sut
        finally:
            for proc in procs:
                stop_process(proc)


def received_faxes(sut: SwitchUnderTest, line: str) -> list[Message]:
    with sut.store.read() as s:
        return list(
            s.scalars(select(Message).where(Message.line_number == line, Message.kind == "fax"))
        )


def test_a_fax_forwarded_as_a_fax_arrives_at_another_lines_fax_number(
    installation: SwitchUnderTest, tmp_path: Path
) -> None:
    sut = installation
    sender, receiver = sut.account(), sut.account()
    with sut.store.transaction() as s:
        line = s.get(Line, receiver)
        assert line is not None
        line.fax_number = FAX_NUMBER
    files = FileStore(sut.root)
    # A fax of two pages on the sender's line, as the switch stores one.
    original = deposit(sut.store, files, sender, kind="fax")
    rel = files.new_name(f"messages/{sender}", ".tif")
    document(files.path(rel), 2)
    with sut.store.transaction() as s:
        m = s.get(Message, original.message_id)
        assert m is not None
        m.file_path = rel

    portal = create_app(
        make_settings(sut.root, sut.db_url), store=sut.store, files=files, clock=Clock()
    )
    api = TestClient(portal)
    api.headers.update(bearer(sign_in(api, sender, "motdepasse1")))
    messages = f"/api/v1/lines/{sender}/messages/{original.message_id}"
    r = api.post(f"{messages}/forward", json={"as": "fax", "to": [FAX_NUMBER]})
    assert r.status_code == 202, r.text
    [send] = r.json()["sends"]
    assert (send["number"], send["state"]) == (FAX_NUMBER, "pending")

    def settled() -> dict[str, Any] | None:
        [out] = api.get(f"{messages}/fax-sends").json()["sends"]
        return out if out["state"] in ("sent", "failed", "cancelled") else None

    result = wait_for(settled, 240, "the fax send is settled")
    with sut.store.read() as s:
        job = s.get(NotificationJob, send["job_id"])
        assert job is not None
        history = job.data.get("results")
    assert (result["state"], result["pages"], result["attempts"]) == ("sent", 3, 1), history

    # The second line received it as a fax: the cover page, then the two pages sent.
    [fax] = wait_for(lambda: received_faxes(sut, receiver), 30, "the fax is stored")
    assert (fax.pages, fax.fax_status) == (3, "complete")
    assert "".join(c for c in fax.fax_remote_ident if c.isdigit()).endswith(sender)
    pdf = (sut.root / fax.file_path).with_suffix(".pdf")
    got = pdf_images(pdf, tmp_path)
    sent = faxdoc.page_images(files.path(str(job.data["document"])))
    assert len(got) == 3
    for page, want in zip(got, sent, strict=True):
        assert similarity(page, want) > 0.95
