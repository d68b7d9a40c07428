"""Packaging: the wheel builds without a warning from the project's own pyproject, declares
GPL-2.0-or-later in SPDX form with LICENSE and NOTICE, and carries every data folder."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_builds_quietly_with_its_licence_and_data(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout + r.stderr
    warnings = [
        line
        for line in out.splitlines()
        if re.search(r"(Setuptools\w*Warning|_Warning|Package would be ignored)", line)
    ]
    assert warnings == []
    (wheel,) = tmp_path.glob("relais-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        notice = z.read(next(n for n in names if n.endswith("licenses/NOTICE"))).decode()
    assert "License-Expression: GPL-2.0-or-later" in meta
    assert "pjproject" in notice and "GPL-2.0-or-later" in notice
    for expected in (
        "config/defaults.toml",
        "config/kamailio/kamailio.cfg.j2",
        "portal/templates/home.html",
        "portal/static/js/messages.js",
        "portal/static/css/relais.css",
        "portal/static/img/icons.svg",
        "portal/i18n/fr/LC_MESSAGES/messages.mo",
        "media/prompts/manifest.json",
        "media/prompts/fr/beep.wav",
        "store/migrations/versions/0001_initial_schema.py",
    ):
        assert expected in names, expected
