"""Fax test documents and page comparison (a spandsp sender's pages vs what was received)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from media import faxdoc


def document(path: Path, pages: int = 3, *, title: str = "Relais fax test") -> Path:
    """A generated multi-page TIFF-F whose pages differ visibly (their number, their words)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    faxdoc.render_document(
        [
            [f"Page {n}: {words[n % len(words)]} " * 3, f"Line two of page {n}"]
            + [f"{n}.{k} " + words[(n + k) % len(words)] * (1 + k % 4) for k in range(18)]
            for n in range(1, pages + 1)
        ],
        path,
        title=title,
    )
    return path


def similarity(a: Image.Image, b: Image.Image) -> float:
    """Black-pixel overlap (intersection over union) of two bilevel pages of the same size."""
    if a.size != b.size:
        return 0.0
    x = np.asarray(a.convert("1")) == 0
    y = np.asarray(b.convert("1")) == 0
    union = np.count_nonzero(x | y)
    return 1.0 if union == 0 else np.count_nonzero(x & y) / union


def pdf_pages(pdf: Path, out: Path) -> list[tuple[float, float]]:
    """Each PDF page's size in points, read by Ghostscript (an independent PDF reader)."""
    import subprocess

    script = (
        f"({pdf}) (r) file runpdfbegin 1 1 pdfpagecount "
        "{ pdfgetpage /MediaBox pget pop { = } forall } for quit"
    )
    done = subprocess.run(
        ["gs", "-q", "-dNODISPLAY", "-dNOSAFER", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=out,
    )
    nums = [float(v) for v in done.stdout.split()]
    return [(nums[i + 2] - nums[i], nums[i + 3] - nums[i + 1]) for i in range(0, len(nums), 4)]


def pdf_images(pdf: Path, out: Path, dpi: tuple[int, int] = faxdoc.DPI) -> list[Image.Image]:
    """The PDF's pages rasterised by Ghostscript at the fax resolution, bilevel."""
    import subprocess

    subprocess.run(
        [
            "gs",
            "-q",
            "-dBATCH",
            "-dNOPAUSE",
            "-dSAFER",
            "-sDEVICE=pngmono",
            f"-r{dpi[0]}x{dpi[1]}",
            f"-sOutputFile={out}/page-%d.png",
            str(pdf),
        ],
        check=True,
    )
    files = sorted(out.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    return [Image.open(f).convert("1") for f in files]
