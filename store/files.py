"""Atomic file storage under the storage root: temp file, fsync, rename, fsync directory.

Rows point to files by a path relative to the root. A file is renamed into place before its
row commits; `store_file_then_row` removes the file again when the row cannot commit, so a
failure between the two leaves neither visible.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TypeVar

T = TypeVar("T")


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, relpath: str) -> Path:
        """Absolute path of a stored file; refuses paths that escape the root."""
        rel = PurePosixPath(relpath)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"invalid stored file path {relpath!r}")
        return self.root.joinpath(*rel.parts)

    @staticmethod
    def new_name(folder: str, suffix: str) -> str:
        """A fresh relative path such as 'messages/6135550100/<uuid>.wav'."""
        return f"{folder}/{uuid.uuid4().hex}{suffix}"

    @contextlib.contextmanager
    def open_atomic(self, relpath: str) -> Iterator[BinaryIO]:
        """Write through a temp file in the same folder; on success fsync and rename it."""
        final = self.path(relpath)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def write_atomic(self, relpath: str, data: bytes) -> Path:
        with self.open_atomic(relpath) as fh:
            fh.write(data)
        return self.path(relpath)

    def move_in(self, source: Path, relpath: str) -> Path:
        """Rename an existing file (same filesystem) into place, durably."""
        final = self.path(relpath)
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(source, final)
        _fsync_dir(final.parent)
        return final

    def remove(self, relpath: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(relpath).unlink()

    def exists(self, relpath: str) -> bool:
        return self.path(relpath).is_file()

    def read(self, relpath: str) -> bytes:
        return self.path(relpath).read_bytes()

    def walk(self, folder: str) -> Iterator[str]:
        """Relative paths of the finished files under `folder` (temp files excluded)."""
        base = self.path(folder)
        if not base.is_dir():
            return
        for p in sorted(base.rglob("*")):
            if p.is_file() and not p.name.startswith(".tmp-"):
                yield p.relative_to(self.root).as_posix()

    def store_file_then_row(self, relpath: str, data: bytes, commit_row: Callable[[], T]) -> T:
        """Write the file, then run `commit_row`; if it raises, the file is removed again."""
        self.write_atomic(relpath, data)
        try:
            return commit_row()
        except BaseException:
            self.remove(relpath)
            raise


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
