"""switch.memdebug: the debug-only report of where a worker's Python memory grows."""

from __future__ import annotations

import tracemalloc

import pytest

from switch.memdebug import ENV, interval, live_types, report, type_growth


def test_the_variable_gives_the_seconds_between_reports() -> None:
    assert interval(None) is None
    assert interval("  ") is None
    assert interval("30") == 30.0
    for bad in ("0", "-5", "often"):
        with pytest.raises(ValueError) as err:
            interval(bad)
        assert str(err.value) == f"{ENV} must be a number of seconds above 0, not {bad!r}"


def test_the_report_names_the_line_that_grew() -> None:
    tracemalloc.start(1)
    try:
        before = tracemalloc.take_snapshot()
        kept = [bytearray(1000) for _ in range(500)]  # this line grows by about 500 KB
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    text = report(before, after, top=3)
    assert len(kept) == 500
    first = text.splitlines()[1]
    assert first.endswith(
        f"{__file__}:{test_the_report_names_the_line_that_grew.__code__.co_firstlineno + 4}"
    )
    assert 490 <= float(first.split()[0]) <= 600  # KiB
    assert text.startswith("traced ")


def test_live_instances_of_the_project_classes_are_counted() -> None:
    from ivr.dialog import Started

    before = live_types()
    kept = [Started() for _ in range(7)]
    after = live_types()
    assert after.get("ivr.dialog.Started", 0) - before.get("ivr.dialog.Started", 0) == 7
    assert len(kept) == 7
    text = type_growth({"a.B": 3, "c.D": 5}, {"a.B": 10, "c.D": 5, "e.F": 1})
    assert text.splitlines() == ["       +7 a.B (10 live)", "       +1 e.F (1 live)"]
