"""scripts/build-pjproject.sh: what it does before it compiles anything (the compile itself runs
in `make install`, and test_switch_limits checks its result is installed). Each case uses a
stand-in virtualenv whose pip only records what it was asked, so nothing is installed and
nothing leaves the machine (the download address is a closed loopback port)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support.ports import free_port

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-pjproject.sh"


def fake_venv(tmp: Path) -> Path:
    venv = tmp / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    pip = venv / "bin" / "pip"
    pip.write_text(f'#!/bin/sh\necho "$@" >> {tmp / "pip.log"}\n')
    pip.chmod(0o755)
    return venv


def run(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_PJPROJECT")}
    base.update(
        RELAIS_PJPROJECT_CACHE=str(tmp / "cache"),
        RELAIS_PJPROJECT_BUILD=str(tmp / "build"),
        RELAIS_PJPROJECT_URL=f"http://127.0.0.1:{free_port()}/pjproject.tar.gz",
        **env,
    )
    return subprocess.run(
        [str(SCRIPT), str(fake_venv(tmp))],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def a_tarball(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = b"not pjproject\n"
        info = tarfile.TarInfo("pjproject-2.15.1/README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_a_wrong_checksum_stops_with_a_clear_message(tmp_path: Path) -> None:
    bad = a_tarball(tmp_path / "pjproject-2.15.1.tar.gz")
    done = run(tmp_path, RELAIS_PJPROJECT_TARBALL=str(bad))
    assert done.returncode == 1
    assert f"checksum mismatch for {bad}" in done.stderr
    assert "expected f55f97a5500117384bafd66d7dc02bbadcad023df0e4f375a90bdac50ce847c3" in (
        done.stderr
    )
    assert not (tmp_path / "build").exists()  # nothing was unpacked
    assert not (tmp_path / "pip.log").exists()  # nothing was installed


def test_a_cached_archive_is_checked_too(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    a_tarball(cache / "pjproject-2.15.1.tar.gz")
    done = run(tmp_path, RELAIS_PJPROJECT_TARBALL=str(tmp_path / "missing.tar.gz"))
    assert done.returncode == 1
    assert "does not exist; trying the cache" in done.stdout
    assert "checksum mismatch" in done.stderr


def test_without_any_source_the_stock_wheel_stays_and_says_so(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 0
    assert "EACH SWITCH WORKER THEN HOLDS" in done.stderr
    assert "ONLY 4 CALLS" in done.stderr
    assert (tmp_path / "pip.log").read_text().split() == [
        "install",
        "-q",
        "pjsua2-python==2.15.1.post1",
    ]
    assert not (tmp_path / "cache" / "pjproject-2.15.1.tar.gz").exists()


def test_without_any_source_an_earlier_relais_build_stays_and_says_so(tmp_path: Path) -> None:
    """A checkout whose patches changed since its last build, with no source at hand: the
    relais build already installed stays (pip would keep it: it satisfies the pin), and the
    warning says so instead of announcing the stock wheel's 4 calls."""
    venv = fake_venv(tmp_path)
    python = venv / "bin" / "python"
    python.unlink()
    python.write_text(
        "#!/bin/sh\n"
        'case "$2" in *importlib*) echo 2.15.1.post1+relais.calls512 ;;\n'
        f'  *) exec {sys.executable} "$@" ;; esac\n'
    )
    python.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_PJPROJECT")}
    base.update(
        RELAIS_PJPROJECT_CACHE=str(tmp_path / "cache"),
        RELAIS_PJPROJECT_BUILD=str(tmp_path / "build"),
        RELAIS_PJPROJECT_URL=f"http://127.0.0.1:{free_port()}/pjproject.tar.gz",
    )
    done = subprocess.run(
        [str(SCRIPT), str(venv)], env=base, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "The relais build installed before stays: pjsua2-python 2.15.1.post1+relais" in (
        done.stderr
    )
    assert "ONLY 4 CALLS" not in done.stderr
    assert not (tmp_path / "pip.log").exists()  # nothing installed over it
