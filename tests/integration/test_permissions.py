"""File modes (issue: files readable by everyone): every relais process runs with umask 077,
so the store (device HA1s), recordings and generated secrets are the owner's only; an existing
storage root is brought to folders 0700 and files 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from store.migrate import upgrade
from store.session import Store

RELAIS = str(Path(sys.executable).with_name("relais"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def env_for(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env["RELAIS_STORAGE_ROOT"] = str(root)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The console script, started with the usual umask 022 (not this process's)."""
    return subprocess.run(
        [RELAIS, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_a_new_installation_is_private(tmp_path: Path) -> None:
    root = tmp_path / "var"
    r = run(env_for(root), "demo")
    assert r.returncode == 0, r.stderr
    assert mode(root) == 0o700
    db = root / "relais.db"
    assert mode(db) == 0o600
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            assert mode(side) == 0o600
    assert mode(root / "demo-credentials.toml") == 0o600
    leaks = [p for p in root.rglob("*") if mode(p) & 0o077]
    assert leaks == []


def test_an_existing_installation_is_tightened_by_db_upgrade(tmp_path: Path) -> None:
    root = tmp_path / "var"
    old = os.umask(0o022)
    try:
        (root / "messages" / "6135550100").mkdir(parents=True)
        wav = root / "messages" / "6135550100" / "1.wav"
        wav.write_bytes(b"RIFF")
        store = Store(f"sqlite:///{root / 'relais.db'}")
        upgrade(store.engine)
        with store.engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
        store.dispose()
    finally:
        os.umask(old)
    assert mode(root / "relais.db") == 0o644 and mode(wav) == 0o644  # as an older relais left it
    assert mode(root / "messages") == 0o755
    r = run(env_for(root), "db", "upgrade")
    assert r.returncode == 0, r.stderr
    assert mode(root) == 0o700
    assert mode(root / "messages") == 0o700 and mode(root / "messages" / "6135550100") == 0o700
    assert mode(wav) == 0o600 and mode(root / "relais.db") == 0o600
    assert [p for p in root.rglob("*") if mode(p) & 0o077] == []
