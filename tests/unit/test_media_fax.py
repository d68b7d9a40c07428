"""media.fax: spandsp's T.30 terminal bound with ctypes, two of them back to back (SPEC S11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media import fax, faxdoc, spandsp
from media.fax import FaxTerminal, Modem
from tests.support.faxes import document, pdf_images, pdf_pages, similarity

pytestmark = pytest.mark.skipif(not spandsp.available(), reason="libspandsp2 is not installed")


def step(a: FaxTerminal, b: FaxTerminal) -> None:
    x, y = a.transmit(160), b.transmit(160)
    b.receive(x)
    a.receive(y)


def test_three_pages_arrive_whole_and_alike(tmp_path: Path) -> None:
    sent = document(tmp_path / "sent.tif", 3)
    sender = FaxTerminal(send_from=sent, calling=True, ident="+1 613 555 0199")
    receiver = FaxTerminal(receive_to=tmp_path / "got.tif", ident="6135550100")
    fax.exchange(sender, receiver)
    assert sender.outcome is not None and receiver.outcome is not None
    assert receiver.outcome.ok and sender.outcome.ok, (receiver.outcome, sender.outcome)
    assert receiver.outcome.pages_rx == 3 and sender.outcome.pages_tx == 3
    assert receiver.outcome.remote_ident == "+1 613 555 0199"
    assert sender.outcome.remote_ident == "6135550100"
    assert receiver.outcome.bit_rate == 14400 and receiver.outcome.ecm
    got = faxdoc.page_images(tmp_path / "got.tif")
    want = faxdoc.page_images(sent)
    assert [p.size for p in got] == [(1728, 2156)] * 3
    for g, w in zip(got, want, strict=True):
        assert similarity(g, w) > 0.98
    # The pages differ from one another, so the similarity above tells them apart.
    assert similarity(got[0], want[1]) < 0.8


def test_the_pdf_has_one_page_per_fax_page_at_letter_size(tmp_path: Path) -> None:
    sent = document(tmp_path / "sent.tif", 2)
    receiver = FaxTerminal(receive_to=tmp_path / "got.tif")
    fax.exchange(FaxTerminal(send_from=sent, calling=True), receiver)
    assert faxdoc.tiff_to_pdf(tmp_path / "got.tif", tmp_path / "got.pdf") == 2
    sizes = pdf_pages(tmp_path / "got.pdf", tmp_path)
    assert [(round(w / 72, 2), round(h / 72, 2)) for w, h in sizes] == [(8.47, 11.0)] * 2
    images = pdf_images(tmp_path / "got.pdf", tmp_path)
    for g, w in zip(images, faxdoc.page_images(sent), strict=True):
        assert similarity(g, w) > 0.95


@pytest.mark.parametrize(
    ("modems", "rate"), [(Modem.V29, 9600), (Modem.V27TER, 4800), (fax.ALL_MODEMS, 14400)]
)
def test_each_modem_carries_a_page(tmp_path: Path, modems: Modem, rate: int) -> None:
    sent = document(tmp_path / "sent.tif", 1)
    receiver = FaxTerminal(receive_to=tmp_path / "got.tif", modems=modems, ecm=False)
    fax.exchange(FaxTerminal(send_from=sent, calling=True), receiver)
    assert receiver.outcome is not None and receiver.outcome.ok
    assert receiver.outcome.bit_rate == rate and not receiver.outcome.ecm
    assert (
        similarity(faxdoc.page_images(tmp_path / "got.tif")[0], faxdoc.page_images(sent)[0]) > 0.98
    )


def test_a_call_dropped_after_page_one_keeps_page_one(tmp_path: Path) -> None:
    sender = FaxTerminal(send_from=document(tmp_path / "sent.tif", 3), calling=True)
    receiver = FaxTerminal(receive_to=tmp_path / "got.tif")
    while sender.pages_done < 1:
        step(sender, receiver)
    for _ in range(100):  # two seconds into page two
        step(sender, receiver)
    sender.close()
    outcome = receiver.hang_up()
    assert outcome.code == fax.T30_ERR_CALLDROPPED and not outcome.ok
    assert outcome.text == "The call dropped prematurely"
    assert outcome.pages_rx == 1
    assert len(faxdoc.tiff_pages(tmp_path / "got.tif")) == 1


def test_a_voice_caller_ends_with_no_page(tmp_path: Path) -> None:
    receiver = FaxTerminal(receive_to=tmp_path / "got.tif")
    rng = np.random.default_rng(7)
    for _ in range(250):  # five seconds of noise where the far end should speak fax
        receiver.receive((rng.standard_normal(160) * 3000).astype(np.int16))
        receiver.transmit(160)
    outcome = receiver.hang_up()
    assert outcome.pages_rx == 0 and not outcome.ok
    receiver.close()


def test_bad_arguments_raise_exact_errors(tmp_path: Path) -> None:
    sent = document(tmp_path / "sent.tif", 1)
    with pytest.raises(
        ValueError, match="^a fax terminal either receives to a file or sends from one$"
    ):
        FaxTerminal()
    with pytest.raises(
        ValueError, match="^a fax terminal either receives to a file or sends from one$"
    ):
        FaxTerminal(receive_to=tmp_path / "a.tif", send_from=sent)
    with pytest.raises(ValueError, match="^fax ident is longer than 20 characters: '1{21}'$"):
        FaxTerminal(send_from=sent, ident="1" * 21)
    with pytest.raises(
        ValueError, match="^fax ident may hold only digits, '\\+' and spaces, not 'x'$"
    ):
        FaxTerminal(send_from=sent, ident="61x")
    with pytest.raises(ValueError, match="^fax page header is longer than 50 characters$"):
        FaxTerminal(send_from=sent, header_info="h" * 51)
    with pytest.raises(ValueError, match="^fax page header must be ASCII$"):
        FaxTerminal(send_from=sent, header_info="télécopie")
    with pytest.raises(
        ValueError, match="^fax modems must be a non-empty mix of V.27ter, V.29 and V.17$"
    ):
        FaxTerminal(send_from=sent, modems=Modem(0))
    with pytest.raises(ValueError, match="^fax document not found: .*missing.tif$"):
        FaxTerminal(send_from=tmp_path / "missing.tif")
    with pytest.raises(ValueError, match="^fax receive folder not found: .*nowhere$"):
        FaxTerminal(receive_to=tmp_path / "nowhere" / "got.tif")


def test_bad_samples_and_closed_terminal(tmp_path: Path) -> None:
    t = FaxTerminal(receive_to=tmp_path / "got.tif")
    with pytest.raises(ValueError, match="^samples must be a one-dimensional int16 array$"):
        t.receive(np.zeros(160, dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^sample count must not be negative$"):
        t.transmit(-1)
    assert len(t.transmit(160)) == 160
    t.close()
    t.close()
    with pytest.raises(ValueError, match="^the fax terminal is closed$"):
        t.receive(np.zeros(160, dtype=np.int16))
    with pytest.raises(ValueError, match="^frame size must be positive$"):
        fax.exchange(t, t, frame=0)


def test_a_file_that_is_not_a_tiff_fails_the_send_not_the_process(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    sender = FaxTerminal(send_from=junk, calling=True)
    receiver = FaxTerminal(receive_to=tmp_path / "got.tif")
    fax.exchange(sender, receiver, max_seconds=60)
    assert sender.outcome is not None and not sender.outcome.ok
    assert receiver.outcome is not None and receiver.outcome.pages_rx == 0
    with pytest.raises(ValueError, match="^not a readable fax TIFF: .*junk.tif$"):
        faxdoc.tiff_pages(junk)


def test_documents_refuse_wrong_pages(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^a fax document needs at least one page$"):
        faxdoc.write_tiff([], tmp_path / "x.tif")
    from PIL import Image

    with pytest.raises(ValueError, match="^fax page 1 is 100 pixels wide, not 1728$"):
        faxdoc.write_tiff([Image.new("1", (100, 100))], tmp_path / "x.tif")
    with pytest.raises(ValueError, match="^too many lines for one fax page$"):
        faxdoc.render_page(["x"] * 40)


def test_a_fax_to_send_gets_a_cover_page_with_the_line(tmp_path: Path) -> None:
    sent = document(tmp_path / "doc.tif", 2)
    out = tmp_path / "out.tif"
    assert (
        faxdoc.with_cover(
            sent, out, line_name="Jeanne Tremblay", line_number="6135550100", lang="fr"
        )
        == 3
    )
    pages = faxdoc.page_images(out)
    assert [p.size for p in pages] == [(1728, 2156)] * 3
    want = faxdoc.page_images(sent)
    assert similarity(pages[1], want[0]) == 1.0 and similarity(pages[2], want[1]) == 1.0
    cover = faxdoc.cover_page(line_name="Jeanne Tremblay", line_number="6135550100", pages=2)
    assert similarity(pages[0], cover) == 1.0
    other = faxdoc.cover_page(line_name="Jeanne Tremblay", line_number="6135550199", pages=2)
    assert similarity(cover, other) < 1.0  # the number is on the page
    english = faxdoc.cover_page(
        line_name="Jeanne Tremblay", line_number="6135550100", pages=2, lang="en"
    )
    assert similarity(cover, english) < 0.9
    # The cover goes through a fax call like any page.
    receiver = FaxTerminal(receive_to=tmp_path / "got.tif")
    fax.exchange(FaxTerminal(send_from=out, calling=True), receiver)
    assert receiver.outcome is not None and receiver.outcome.pages_rx == 3
    assert similarity(faxdoc.page_images(tmp_path / "got.tif")[0], cover) > 0.98
    with pytest.raises(ValueError, match="^unknown language 'de'$"):
        faxdoc.cover_page(line_name="x", line_number="6135550100", pages=1, lang="de")
    with pytest.raises(ValueError, match="^a fax sends at least one page after its cover$"):
        faxdoc.cover_page(line_name="x", line_number="6135550100", pages=0)
