"""The one table `make bench` prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    area: str
    figure: str
    value: str
    reference: str
    target: str


HEADER = Row("area", "figure", "value", "reference (same run)", "target")


def render(rows: list[Row]) -> str:
    table = [HEADER, *rows]
    widths = [
        max(len(getattr(r, f)) for r in table)
        for f in ("area", "figure", "value", "reference", "target")
    ]

    def line(r: Row) -> str:
        cells = (r.area, r.figure, r.value, r.reference, r.target)
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(HEADER), rule, *(line(r) for r in rows)])
