"""Waveform pictures of messages for the portal (SPEC S8): peak buckets, rendered as SVG.

Rules of this file:
- Pure: samples in, a list of floats or SVG text out; the same input gives the same bytes.
- Peaks are normalised to the loudest bucket (0..1), so a quiet message still shows its shape;
  a silent message is all zeros.
- The SVG needs no script and no external resource; the portal inlines it or serves it as
  image/svg+xml. Its colour is validated, never interpolated as given.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np

from media.analysis import Samples, as_float

DEFAULT_BUCKETS: Final = 120
_COLOR: Final = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?|currentColor")


def peaks(samples: Samples, buckets: int = DEFAULT_BUCKETS) -> list[float]:
    """`buckets` peak levels (max |sample| per equal slice of time), normalised to 0..1."""
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1: {buckets}")
    x = np.abs(as_float(samples))
    if len(x) == 0:
        return [0.0] * buckets
    edges = np.linspace(0, len(x), buckets + 1).astype(np.int64)
    out = np.zeros(buckets, dtype=np.float64)
    for i in range(buckets):
        start, end = int(edges[i]), int(edges[i + 1])
        if end > start:
            out[i] = float(np.max(x[start:end]))
    top = float(np.max(out))
    if top == 0.0:
        return [0.0] * buckets
    return [round(float(v) / top, 4) for v in out]


def svg(
    levels: list[float],
    *,
    width: int = 360,
    height: int = 48,
    color: str = "currentColor",
    title: str | None = None,
) -> str:
    """An SVG picture of peak levels: one bar per level, centred on the middle line.

    Each bar is at least one unit tall so silence still draws a line. `title` becomes the
    accessible name (escaped).
    """
    if width < 1 or height < 2:
        raise ValueError(f"picture too small: {width}x{height}")
    if not _COLOR.fullmatch(color):
        raise ValueError(f"invalid color: {color!r}")
    if any(not 0.0 <= v <= 1.0 for v in levels):
        raise ValueError("levels must be between 0 and 1")
    count = max(1, len(levels))
    step = width / count
    bar = max(step * 0.7, 0.5)
    middle = height / 2
    rects = []
    for i, level in enumerate(levels):
        h = max(1.0, level * (height - 2))
        rects.append(
            f'<rect x="{i * step + (step - bar) / 2:.2f}" y="{middle - h / 2:.2f}" '
            f'width="{bar:.2f}" height="{h:.2f}"/>'
        )
    label = f"<title>{_escape(title)}</title>" if title is not None else ""
    role = 'role="img" ' if title is not None else 'aria-hidden="true" '
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" {role}viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" fill="{color}">{label}{"".join(rects)}</svg>'
    )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def waveform_svg(
    samples: Samples,
    buckets: int = DEFAULT_BUCKETS,
    *,
    width: int = 360,
    height: int = 48,
    color: str = "currentColor",
    title: str | None = None,
) -> str:
    """peaks() then svg() in one call, for a message's samples."""
    return svg(peaks(samples, buckets), width=width, height=height, color=color, title=title)
