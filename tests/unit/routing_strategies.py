"""Hypothesis strategies for the routing tests: numbers, VALID ring tables, settings, calls."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from routing.model import (
    ACCOUNT_PHONE,
    MAX_CELL_SECONDS,
    MAX_ROWS,
    MAX_STAGES,
    MIN_CELL_SECONDS,
    CallFacts,
    DialPlan,
    Diversion,
    DiversionReason,
    FallbackAction,
    IncomingMode,
    LineSettings,
    PhoneState,
    RingEntry,
    RingTable,
)

NOW = datetime(2025, 3, 14, 9, 30)
LINE = "6135550100"

_area = st.integers(200, 999).map(str).filter(lambda a: a[1:] != "11" and a not in ("900", "976"))
_exchange = st.integers(200, 999).map(str).filter(lambda e: e[1:] != "11" and e != "976")
_station = st.integers(0, 9999).map(lambda n: f"{n:04d}")

allowed_numbers = st.builds(lambda a, e, s: a + e + s, _area, _exchange, _station)
"""10-digit NANP numbers the default dial plan accepts."""

small_pool = st.sampled_from(
    ["6135550111", "6135550122", "6135550133", "8195550144", "6135550155", LINE]
)
"""A few numbers (the line itself among them) so that lists, tables and histories overlap."""

refused_numbers = st.sampled_from(
    [
        "9005550100",  # premium area code
        "9765550100",  # premium area code
        "6139760100",  # premium exchange
        "6139110100",  # N11 exchange
        "911",  # service code
        "12345",  # extension of a length the dial plan does not have
        "011442079460958",  # international, refused unless allowed
    ]
)

destinations = st.one_of(allowed_numbers, small_pool, refused_numbers, st.just("1234"))

_cells = st.one_of(
    st.none(),
    st.sampled_from([10, 20, 30]),  # equal cells make continuous legs likely
    st.integers(MIN_CELL_SECONDS, MAX_CELL_SECONDS),
)
_ring_time = st.integers(MIN_CELL_SECONDS, MAX_CELL_SECONDS)


@st.composite
def ring_tables(draw: st.DrawFn, numbers: st.SearchStrategy[str] = destinations) -> RingTable:
    """A valid UCN table: 1..11 distinct rows, 1..6 columns, no empty row and no empty column."""
    columns = draw(st.integers(1, MAX_STAGES))
    with_account = draw(st.booleans())
    others = draw(
        st.lists(
            numbers,
            unique=True,
            min_size=0 if with_account else 1,
            max_size=MAX_ROWS - (1 if with_account else 0),
        )
    )
    rows = draw(st.permutations(([ACCOUNT_PHONE] if with_account else []) + others))
    matrix = [draw(st.lists(_cells, min_size=columns, max_size=columns)) for _ in rows]
    for cells in matrix:
        if all(cell is None for cell in cells):
            cells[draw(st.integers(0, columns - 1))] = draw(_ring_time)
    for k in range(columns):
        if all(cells[k] is None for cells in matrix):
            matrix[draw(st.integers(0, len(rows) - 1))][k] = draw(_ring_time)
    entries: list[RingEntry] = []
    for number, cells in zip(rows, matrix, strict=True):
        if draw(st.booleans()):  # a row may stop after its last ring time
            while cells[-1] is None:
                cells.pop()
        confirm = draw(st.sampled_from([None, None, True, False]))
        entries.append(RingEntry(number, tuple(cells), draw(st.booleans()), confirm))
    return RingTable(tuple(entries))


diversions = st.builds(
    Diversion, st.one_of(small_pool, allowed_numbers), st.sampled_from(DiversionReason)
)


def often(true_in_ten: int) -> st.SearchStrategy[bool]:
    """True in `true_in_ten` draws out of ten, so that every rule of S3 is reached often."""
    return st.sampled_from([False] * (10 - true_in_ten) + [True] * true_in_ten)


@st.composite
def line_settings(draw: st.DrawFn) -> LineSettings:
    """Valid settings of LINE: any mode, valid ring table, destinations that may be refused."""
    maybe = st.one_of(st.none(), destinations)
    lists = st.frozensets(st.one_of(small_pool, small_pool, allowed_numbers), max_size=4)
    return LineSettings(
        line=LINE,
        has_mailbox=draw(often(8)),
        has_devices=draw(often(8)),
        phone_state=PhoneState.DND if draw(often(2)) else PhoneState.AVAILABLE,
        incoming_mode=draw(st.sampled_from(IncomingMode)),
        forward_all_to=draw(maybe),
        ring_table=draw(ring_tables()),
        local_numbers=draw(st.frozensets(small_pool, max_size=3)),
        no_answer_action=draw(st.sampled_from(FallbackAction)),
        no_answer_to=draw(maybe),
        no_answer_timeout=draw(st.integers(MIN_CELL_SECONDS, MAX_CELL_SECONDS)),
        busy_action=draw(st.sampled_from(FallbackAction)),
        busy_to=draw(maybe),
        unavailable_forwarding=draw(often(5)),
        unavailable_to=draw(maybe),
        selective_forwarding=draw(often(5)),
        selective_forward_to=draw(maybe),
        forward_list=draw(lists),
        selective_rejection=draw(often(3)),
        reject_list=draw(lists),
        anonymous_rejection=draw(often(3)),
        allow_international=draw(often(2)),
        dial_plan=DialPlan(allow_international=draw(often(1))),
        forward_timeout=draw(st.integers(5, 120)),
        max_diversions=draw(st.integers(1, 6)),
    )


calls = st.builds(
    CallFacts,
    called=st.just(LINE),
    caller=st.one_of(small_pool, small_pool, small_pool, allowed_numbers, st.none()),
    now=st.just(NOW),
    privacy=st.one_of(
        st.just(frozenset()),
        st.just(frozenset()),
        st.frozensets(st.sampled_from(["id", "user", "header", "none"]), max_size=2),
    ),
    diversions=st.one_of(st.just(()), st.lists(diversions, max_size=7).map(tuple)),
)
"""Calls to LINE (not to the pilot)."""
