"""The logs of the processes a test tier started (switch workers, edges), shown in a failed
test's report: what a worker said while a test failed is what explains it, and a CI machine
keeps nothing else (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

RUNNING: dict[Path, str] = {}
"""Log file -> a name for the report, for every process running now."""

TAIL = 80
"""At most this many of the lines a log gained during a failed test are shown."""


def watch(log: Path, name: str) -> None:
    RUNNING[log] = name


def unwatch(log: Path) -> None:
    RUNNING.pop(log, None)


def sizes() -> dict[Path, int]:
    """Where each running process's log ends now."""
    out: dict[Path, int] = {}
    for log in list(RUNNING):
        try:
            out[log] = log.stat().st_size
        except OSError:
            out[log] = 0
    return out


def written_since(marks: dict[Path, int]) -> list[tuple[str, str]]:
    """(name, text) of what each running process logged after `marks` (from its start for a
    process started since), its last TAIL lines."""
    out: list[tuple[str, str]] = []
    for log, name in list(RUNNING.items()):
        try:
            with open(log, "rb") as f:
                f.seek(marks.get(log, 0))
                data = f.read()
        except OSError:
            continue
        lines = data.decode("utf-8", "replace").splitlines()
        if not lines:
            continue
        cut = len(lines) - TAIL
        text = "\n".join(lines[-TAIL:])
        if cut > 0:
            text = f"({cut} earlier lines left out)\n{text}"
        out.append((f"{name} ({log})", text))
    return out
