"""Atomic file storage: temp file + fsync + rename; a failure leaves nothing visible."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from store import repository as repo
from store.files import FileStore
from store.models import Message
from store.session import Store


def test_write_atomic_and_read_back(tmp_path: Path) -> None:
    fs = FileStore(tmp_path)
    rel = fs.new_name("messages/6135550100", ".wav")
    fs.write_atomic(rel, b"RIFF....")
    assert fs.read(rel) == b"RIFF...."
    assert list(fs.walk("messages")) == [rel]


def test_failure_while_writing_leaves_no_file(tmp_path: Path) -> None:
    fs = FileStore(tmp_path)
    with pytest.raises(OSError), fs.open_atomic("greetings/a.wav") as fh:
        fh.write(b"partial")
        raise OSError("disk full")
    assert not fs.exists("greetings/a.wav")
    assert list((tmp_path / "greetings").iterdir()) == []  # no temp file left behind


def test_rewrite_replaces_whole_file(tmp_path: Path) -> None:
    fs = FileStore(tmp_path)
    fs.write_atomic("g.wav", b"old content, longer")
    fs.write_atomic("g.wav", b"new")
    assert fs.read("g.wav") == b"new"


@pytest.mark.parametrize("bad", ["../escape.wav", "/etc/passwd", "", "a/../../b"])
def test_paths_cannot_escape_the_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid stored file path"):
        FileStore(tmp_path).path(bad)


def test_failure_between_file_and_row_leaves_neither(store: Store, tmp_path: Path) -> None:
    fs = FileStore(tmp_path / "files")
    with store.transaction() as s:
        repo.create_account(s, number="6135550100", name="A", password="motdepasse1", pin="4826")
    rel = fs.new_name("messages/6135550100", ".wav")

    def commit_row() -> None:
        with store.transaction() as s:
            s.add(Message(line_number="6135550100", file_path=rel, duration_seconds=3.0))
            s.flush()
            raise RuntimeError("worker died before commit")

    with pytest.raises(RuntimeError):
        fs.store_file_then_row(rel, b"audio", commit_row)
    assert not fs.exists(rel)
    with store.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Message)) == 0

    def commit_ok() -> int:
        with store.transaction() as s:
            m = Message(line_number="6135550100", file_path=rel, duration_seconds=3.0)
            s.add(m)
            s.flush()
            return m.id

    mid = fs.store_file_then_row(rel, b"audio", commit_ok)
    assert fs.exists(rel) and mid > 0
