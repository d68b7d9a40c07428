"""Where the workers keep their listen files (switch.worker.listen_folder): in memory, in a
folder of the installation's own that only its user can read, when there is room; on the
disk otherwise; where the operator says when `listen_dir` is set."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import load_settings


@pytest.fixture
def memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in for /dev/shm (a folder of the test's own: its free space is the disk's)."""
    import switch.worker

    root = tmp_path / "shm"
    root.mkdir()
    monkeypatch.setattr(switch.worker, "MEMORY_ROOT", root)
    monkeypatch.setattr(switch.worker, "MEMORY_MIN_FREE", 1)
    yield root


def test_listen_files_go_in_memory_in_a_folder_of_the_installation(
    tmp_path: Path, memory: Path
) -> None:
    from switch.worker import listen_folder

    a = load_settings(storage_root=tmp_path / "a")
    b = load_settings(storage_root=tmp_path / "b")
    folder = listen_folder(a)
    assert folder.parent == memory and folder.name.startswith("relais-")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # callers' audio
    assert listen_folder(a) == folder  # the same installation, the same folder
    assert listen_folder(b) != folder  # two installations on one machine never share one


def test_a_folder_opened_up_by_someone_is_closed_again(tmp_path: Path, memory: Path) -> None:
    from switch.worker import listen_folder

    cfg = load_settings(storage_root=tmp_path / "a")
    folder = listen_folder(cfg)
    folder.chmod(0o777)
    assert listen_folder(cfg) == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_without_room_in_memory_the_listen_files_stay_on_the_disk(
    tmp_path: Path, memory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import switch.worker
    from switch.worker import listen_folder

    cfg = load_settings(storage_root=tmp_path / "a")
    monkeypatch.setattr(switch.worker, "MEMORY_MIN_FREE", shutil.disk_usage(memory).free + 1)
    assert listen_folder(cfg) == (tmp_path / "a" / "spool" / "listen").resolve()
    assert list(memory.iterdir()) == []


def test_without_a_memory_folder_the_listen_files_stay_on_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import switch.worker
    from switch.worker import listen_folder

    monkeypatch.setattr(switch.worker, "MEMORY_ROOT", tmp_path / "no-such-folder")
    cfg = load_settings(storage_root=tmp_path / "a")
    assert listen_folder(cfg) == (tmp_path / "a" / "spool" / "listen").resolve()


def test_a_link_in_place_of_the_folder_is_not_followed(tmp_path: Path, memory: Path) -> None:
    """Someone who made /dev/shm/relais-<id> a link to a folder of theirs does not get the
    callers' audio: the files stay on the disk."""
    from switch.worker import listen_folder

    cfg = load_settings(storage_root=tmp_path / "a")
    folder = listen_folder(cfg)
    folder.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.symlink_to(elsewhere)
    assert listen_folder(cfg) == (tmp_path / "a" / "spool" / "listen").resolve()


def test_the_operator_names_the_folder(tmp_path: Path, memory: Path) -> None:
    from switch.worker import listen_folder

    cfg = load_settings(storage_root=tmp_path / "a", listen_dir=str(tmp_path / "fast"))
    assert listen_folder(cfg) == (tmp_path / "fast").resolve()
    assert list(memory.iterdir()) == []


def test_the_setting_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAIS_LISTEN_DIR", str(tmp_path / "fast"))
    assert load_settings(storage_root=tmp_path).listen_dir == str(tmp_path / "fast")
