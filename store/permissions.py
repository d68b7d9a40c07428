"""Files relais writes are its own: umask 077 in every relais process, and an existing storage
root brought to folders 0700 and files 0600 (the store holds device HA1s, the storage root
recordings and generated secrets)."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PROCESS_UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_process() -> None:
    """Every file and folder this process (and its children) creates is its owner's only."""
    os.umask(PROCESS_UMASK)


def _tighten_one(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
            return
        if stat.S_IMODE(st.st_mode) & ~mode:
            path.chmod(stat.S_IMODE(st.st_mode) & mode)


def tighten_database(database_file: Path) -> None:
    """The SQLite database and its -wal / -shm files: 0600."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        _tighten_one(database_file.with_name(database_file.name + suffix), FILE_MODE)


def tighten_tree(root: Path) -> None:
    """Folders 0700 and files 0600 under `root` (itself included); others' files untouched."""
    if not root.is_dir():
        return
    _tighten_one(root, FOLDER_MODE)
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs:
            _tighten_one(base / name, FOLDER_MODE)
        for name in files:
            _tighten_one(base / name, FILE_MODE)
