"""A small file system for full-disk tests: a tmpfs mounted for the test (root), and a filler
that leaves it exactly as full as a test wants."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "2m") -> Iterator[Path]:
    """`path` as a tmpfs of `size`, unmounted afterwards; skips the test where mounting is not
    allowed (not root, no CAP_SYS_ADMIN)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """A file that fills `folder`'s file system to `leave` bytes free (0: completely full)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        if leave:
            fh.write(b"\0" * (shutil.disk_usage(folder).free - leave))
            return filler
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * size)
    return filler
