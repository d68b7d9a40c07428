"""Per-host files under a shared storage root (docs/scaling.md): a switch host with its own
address names its workers' spool folders, status files and its supervisor's state after it;
on one machine the names stay short."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from relais.run import state_path


@pytest.mark.parametrize(
    ("host", "suffix"),
    [("127.0.0.1", ""), ("0.0.0.0", ""), ("10.213.0.11", "-10.213.0.11"), ("fd00::7", "-fd00__7")],
)
def test_the_switch_host_names_its_files(tmp_path: Path, host: str, suffix: str) -> None:
    from switch.worker import status_path, worker_folder

    cfg = load_settings(storage_root=tmp_path, switch_host=host)
    assert cfg.host_suffix == suffix
    assert status_path(cfg, 1) == tmp_path / "run" / f"switch-1{suffix}.json"
    assert worker_folder(cfg, 1) == f"w1{suffix}"
    assert state_path(cfg) == tmp_path / "run" / f"supervisor{suffix}.json"


def test_two_switch_hosts_never_share_a_status_file(tmp_path: Path) -> None:
    from switch.worker import status_path

    a = load_settings(storage_root=tmp_path, switch_host="10.0.0.7")
    b = load_settings(storage_root=tmp_path, switch_host="10.0.0.8")
    assert {status_path(a, i) for i in range(4)}.isdisjoint({status_path(b, i) for i in range(4)})
    assert state_path(a) != state_path(b)
