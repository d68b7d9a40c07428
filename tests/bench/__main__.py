"""`make bench`: run every tests/bench/bench_*.py module and print one table.

A module exposes `run() -> list[Row]`. Figures are counts or ratios measured in this run on this
machine against a reference measured in the same run; never compare them with absolute times
from elsewhere. `python -m tests.bench routing sip` runs only the named modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from tests.bench.table import Row, render


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = {f"bench_{a}" for a in argv}
    if wanted:
        unknown = wanted - set(names)
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    rows: list[Row] = []
    failed = False
    for name in names:
        module = importlib.import_module(f"tests.bench.{name}")
        started = time.monotonic()
        print(f"# {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(module.run())
        except Exception as exc:  # one failing benchmark must not hide the others
            failed = True
            rows.append(Row(name.removeprefix("bench_"), "FAILED", str(exc)[:80], "", ""))
        print(f"# {name} done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(render(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
