"""Fax documents: text pages rendered to TIFF-F, TIFF-F pages to PDF, page facts (SPEC S11).

Rules of this file:
- Pillow does all of it (one maintained library already linked to libtiff and FreeType): it
  reads the T.4 / T.6 TIFF that spandsp writes, writes multi-page TIFF-F (T.6, 1728 pixels wide,
  fine resolution 204 x 196 dpi) that spandsp sends, and writes PDFs whose bilevel pages stay
  CCITT-compressed at the fax's own resolution (one PDF page per fax page, the right paper size
  even for the non-square 204 x 98 dpi "standard" pages). Ghostscript is not needed at run time.
- Functions take and return paths and plain values; a file that is not a readable bilevel TIFF
  raises `ValueError` with the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont, ImageSequence, UnidentifiedImageError

WIDTH: Final = 1728  # T.4 page width for 215 mm at 8 pixels / mm
DPI: Final = (204, 196)  # T.4 fine resolution, in dots per inch
LETTER_LINES: Final = 2156  # 11 inches at 196 lines per inch
FONT: Final = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian fonts-dejavu-core


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a fax document: pixels and resolution (dots per inch)."""

    width: int
    height: int
    x_dpi: float
    y_dpi: float

    @property
    def size_inches(self) -> tuple[float, float]:
        return (self.width / self.x_dpi, self.height / self.y_dpi)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def render_page(lines: list[str], *, title: str = "") -> Image.Image:
    """One letter-size fax page (1728 x 2156, 204 x 196 dpi, bilevel) with the text drawn."""
    page = Image.new("1", (WIDTH, LETTER_LINES), 1)
    draw = ImageDraw.Draw(page)
    y = 120
    if title:
        draw.text((120, y), title, font=_font(72), fill=0)
        y += 180
    body = _font(40)
    for line in lines:
        draw.text((120, y), line, font=body, fill=0)
        y += 64
        if y > LETTER_LINES - 120:
            raise ValueError("too many lines for one fax page")
    return page


def write_tiff(pages: list[Image.Image], path: Path) -> None:
    """Write bilevel pages as one multi-page TIFF-F (T.6) at fax fine resolution."""
    if not pages:
        raise ValueError("a fax document needs at least one page")
    for i, page in enumerate(pages, 1):
        if page.width != WIDTH:
            raise ValueError(f"fax page {i} is {page.width} pixels wide, not {WIDTH}")
    first, *rest = [p.convert("1") for p in pages]
    first.save(
        path,
        format="TIFF",
        compression="group4",
        dpi=DPI,
        save_all=True,
        append_images=rest,
    )


def render_document(pages: list[list[str]], path: Path, *, title: str = "") -> None:
    """Text pages (a list of lines each) rendered into a TIFF-F file."""
    write_tiff(
        [
            render_page(lines, title=f"{title} ({i}/{len(pages)})" if title else "")
            for i, lines in enumerate(pages, 1)
        ],
        path,
    )


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise ValueError(f"not a readable fax TIFF: {path}") from exc
    if image.format != "TIFF":
        raise ValueError(f"not a readable fax TIFF: {path}")
    return image


def _dpi(image: Image.Image) -> tuple[float, float]:
    dpi = image.info.get("dpi")
    if not dpi or not dpi[0] or not dpi[1]:
        return (float(DPI[0]), float(DPI[1]))
    return (float(dpi[0]), float(dpi[1]))


def tiff_pages(path: Path) -> list[Page]:
    """The pages of a TIFF-F file with their pixel sizes and resolutions."""
    image = _open(path)
    out: list[Page] = []
    for frame in ImageSequence.Iterator(image):
        x, y = _dpi(frame)
        out.append(Page(frame.width, frame.height, x, y))
    return out


def page_images(path: Path) -> list[Image.Image]:
    """Each page of a TIFF file as a bilevel image (copies, the file is closed)."""
    image = _open(path)
    return [frame.convert("1").copy() for frame in ImageSequence.Iterator(image)]


def tiff_to_pdf(tiff: Path, pdf: Path) -> int:
    """Write the pages of a TIFF-F file as a PDF (same pixels, real size); returns pages."""
    image = _open(tiff)
    frames = [frame.convert("1").copy() for frame in ImageSequence.Iterator(image)]
    dpi = _dpi(image)
    if not frames:
        raise ValueError(f"fax TIFF has no page: {tiff}")
    first, *rest = frames
    first.save(pdf, format="PDF", save_all=True, append_images=rest, dpi=dpi)
    return len(frames)


def cover_page(
    *,
    line_name: str,
    line_number: str,
    pages: int,
    lang: str = "fr",
    note: str = "",
) -> Image.Image:
    """The cover page of a fax sent from a line: its name and number, and the page count."""
    if lang not in _COVER:
        raise ValueError(f"unknown language {lang!r}")
    if pages < 1:
        raise ValueError("a fax sends at least one page after its cover")
    words = _COVER[lang]
    shown = (
        f"{line_number[:3]} {line_number[3:6]}-{line_number[6:]}"
        if len(line_number) == 10
        else line_number
    )
    lines = [
        f"{words['from']} : {line_name}" if lang == "fr" else f"{words['from']}: {line_name}",
        f"{words['number']} : {shown}" if lang == "fr" else f"{words['number']}: {shown}",
        (f"{words['pages']} : {pages + 1}" if lang == "fr" else f"{words['pages']}: {pages + 1}"),
    ]
    if note:
        lines += ["", *[note[i : i + 60] for i in range(0, min(len(note), 600), 60)]]
    return render_page(lines, title=words["title"])


_COVER: Final = {
    "fr": {
        "title": "Télécopie",
        "from": "De",
        "number": "Numéro",
        "pages": "Pages (page couverture comprise)",
    },
    "en": {
        "title": "Fax",
        "from": "From",
        "number": "Number",
        "pages": "Pages (including this cover)",
    },
}


def with_cover(tiff: Path, out: Path, *, line_name: str, line_number: str, lang: str) -> int:
    """A TIFF-F to send: the cover page, then the pages of `tiff`; returns the pages in `out`."""
    pages = page_images(tiff)
    if not pages:
        raise ValueError(f"fax TIFF has no page: {tiff}")
    cover = cover_page(line_name=line_name, line_number=line_number, pages=len(pages), lang=lang)
    same = [p if p.width == WIDTH else p.resize((WIDTH, p.height)) for p in pages]
    write_tiff([cover, *same], out)
    return len(same) + 1
