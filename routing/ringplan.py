"""The UCN ring table -> a timeline of legs (SPEC S3, sequential and simultaneous ringing).

Rules of this file:
- A table has rows (the account phone and up to 10 other numbers) and up to 6 columns (stages).
  A cell is a ring time of 5..120 seconds or empty.
- Stage k starts when stage k-1 ends and lasts as long as its longest cell. Every number with a
  cell in stage k rings from the start of stage k for its cell's time, in parallel.
- A number whose cell lasts the whole of stage k and that has a cell in stage k+1 rings on without
  a break: it is one leg across both stages (the switch never re-INVITEs it).
- A leg asks its answerer to press 1 when its row says so (confirm_answer); a row that does not
  say (None) asks it of numbers outside the installation only, never of the account phone or of
  the installation's own lines (`local`).
- validate() raises ValueError with an exact message, checking in this order: empty table, too
  many rows, too many columns, then row by row (number, duplicate, cell range), then (sequential
  only) a table with no ring time at all, a row with no ring time, an empty column.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.model import (
    ACCOUNT_PHONE,
    MAX_CELL_SECONDS,
    MAX_ROWS,
    MAX_STAGES,
    MIN_CELL_SECONDS,
    Diversion,
    Leg,
    RingEntry,
    RingTable,
)
from routing.numbers import is_normalised


@dataclass(frozen=True)
class Timeline:
    """The legs of a table in the order they start, the length of each stage, the total time."""

    legs: tuple[Leg, ...]
    stages: tuple[int, ...]
    total: int

    @property
    def starts(self) -> tuple[int, ...]:
        """The second at which each stage starts."""
        starts: list[int] = []
        at = 0
        for length in self.stages:
            starts.append(at)
            at += length
        return tuple(starts)


def label(number: str) -> str:
    """How a row is named in messages: its number, or "the account phone"."""
    return "the account phone" if number == ACCOUNT_PHONE else number


def confirms(entry: RingEntry, local: frozenset[str] = frozenset()) -> bool:
    """Whether the legs of `entry` ask their answerer to press 1 (see the rules above)."""
    if entry.confirm_answer is not None:
        return entry.confirm_answer
    return entry.number != ACCOUNT_PHONE and entry.number not in local


def validate(table: RingTable, *, simultaneous: bool = False) -> None:
    """Raise ValueError when the table cannot be rung.

    With simultaneous=True the cells are only checked for range: every row rings at once for the
    no-answer timeout, so a row without ring time is fine.
    """
    entries = table.entries
    if not entries:
        raise ValueError("the ring table is empty")
    if len(entries) > MAX_ROWS:
        raise ValueError(
            f"the ring table has {len(entries)} rows: at most {MAX_ROWS} "
            f"(the account phone and {MAX_ROWS - 1} other numbers)"
        )
    columns = max(len(entry.cells) for entry in entries)
    if columns > MAX_STAGES:
        raise ValueError(f"the ring table has {columns} columns: at most {MAX_STAGES}")
    seen: set[str] = set()
    for entry in entries:
        number = entry.number
        if number != ACCOUNT_PHONE and not is_normalised(number):
            raise ValueError(f"{number!r} in the ring table is not a normalised number")
        if number in seen:
            raise ValueError(f"{label(number)} appears more than once in the ring table")
        seen.add(number)
        for k, cell in enumerate(entry.cells):
            if cell is not None and not MIN_CELL_SECONDS <= cell <= MAX_CELL_SECONDS:
                raise ValueError(
                    f"{label(number)}, column {k + 1}: {cell} seconds is outside "
                    f"{MIN_CELL_SECONDS}..{MAX_CELL_SECONDS}"
                )
    if simultaneous:
        return
    if all(cell is None for entry in entries for cell in entry.cells):
        raise ValueError("the ring table has no ring time in any cell")
    for entry in entries:
        if all(cell is None for cell in entry.cells):
            raise ValueError(f"{label(entry.number)} has no ring time in any column")
    for k in range(columns):
        if all(_cell(entry.cells, k) is None for entry in entries):
            raise ValueError(f"column {k + 1} of the ring table has no ring time")


def sequential(
    table: RingTable, diversion: Diversion | None = None, local: frozenset[str] = frozenset()
) -> Timeline:
    """The legs of a table rung stage after stage, and the time the whole table takes.

    Legs to numbers other than the account phone carry `diversion` (the engine's follow-me);
    `local` are the table's numbers that are lines of the installation (confirms()).
    """
    validate(table)
    entries = table.entries
    columns = max(len(entry.cells) for entry in entries)
    rows = [entry.cells + (None,) * (columns - len(entry.cells)) for entry in entries]
    stages = [max(c for row in rows if (c := row[k]) is not None) for k in range(columns)]
    starts: list[int] = []
    at = 0
    for length in stages:
        starts.append(at)
        at += length
    found: list[tuple[int, int, Leg]] = []  # (start, row, leg): sorted into start order below
    for position, (entry, row) in enumerate(zip(entries, rows, strict=True)):
        number, remote = entry.number, entry.allow_remote_forwarding
        header = None if number == ACCOUNT_PHONE else diversion
        confirm = confirms(entry, local)
        start = end = -1  # the leg being built; start < 0: none
        for k, cell in enumerate(row):
            if cell is None:
                if start >= 0:
                    found.append(
                        (start, position, Leg(number, start, end - start, remote, header, confirm))
                    )
                    start = -1
            elif start >= 0 and end == starts[k]:
                # The previous cell lasted its whole stage: keep ringing on the same leg.
                end = starts[k] + cell
            else:
                if start >= 0:
                    found.append(
                        (start, position, Leg(number, start, end - start, remote, header, confirm))
                    )
                start, end = starts[k], starts[k] + cell
        if start >= 0:
            found.append(
                (start, position, Leg(number, start, end - start, remote, header, confirm))
            )
    found.sort(key=lambda item: (item[0], item[1]))
    return Timeline(tuple(leg for _, _, leg in found), tuple(stages), at)


def simultaneous(
    table: RingTable,
    timeout: int,
    diversion: Diversion | None = None,
    local: frozenset[str] = frozenset(),
) -> Timeline:
    """Every row of the table rings at once for `timeout` seconds (the no-answer timeout).

    Legs to numbers other than the account phone carry `diversion` (the engine's follow-me);
    `local` are the table's numbers that are lines of the installation (confirms()).
    """
    validate(table, simultaneous=True)
    if timeout < 1:
        raise ValueError(f"the no-answer timeout is {timeout} seconds: it must be at least 1")
    legs = tuple(
        Leg(
            entry.number,
            0,
            timeout,
            entry.allow_remote_forwarding,
            None if entry.number == ACCOUNT_PHONE else diversion,
            confirms(entry, local),
        )
        for entry in table.entries
    )
    return Timeline(legs, (timeout,), timeout)


def _cell(cells: tuple[int | None, ...], k: int) -> int | None:
    return cells[k] if k < len(cells) else None
