"""Packs a built pjsua2 SWIG module as an installable wheel of `pjsua2-python` (stdlib only).

Usage: pack_wheel.py BUILD_LIB_DIR OUT_DIR VERSION CONFIG_SITE_H

BUILD_LIB_DIR holds what pjproject's `setup.py build` made (pjsua2.py and _pjsua2*.so). The
wheel keeps the distribution name and the import name of the stock `pjsua2-python` wheel, so
`import pjsua2` and the `pjsua2-python==2.15.1.post1` pin are unchanged; VERSION carries a
local label (2.15.1.post1+relais.calls512) and pjsua2/_relais_build.py says the compile-time
limits of CONFIG_SITE_H (calls, players, recorders, bridge ports, I/O queue handles), which the
switch reads at start (switch/endpoint.py library_limits). The relais tap built beside the
module (librelais_tap.so, switch/tap.c) goes into the package too when it is there.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import sysconfig
import zipfile
from pathlib import Path

INIT = '''"""pjsua2 (pjproject {pj}) built by relais with {calls} calls per process."""

from ._relais_build import *  # noqa: F403
from .pjsua2 import *  # noqa: F403

__version__ = "{version}"
'''

LIMITS = {
    "MAX_CALLS": "PJSUA_MAX_CALLS",
    "MAX_PLAYERS": "PJSUA_MAX_PLAYERS",
    "MAX_RECORDERS": "PJSUA_MAX_RECORDERS",
    "MAX_CONF_PORTS": "PJSUA_MAX_CONF_PORTS",
    "IOQUEUE_MAX_HANDLES": "PJ_IOQUEUE_MAX_HANDLES",
}


def limits(config_site: str) -> dict[str, int]:
    """The integer #defines of config_site.h that _relais_build.py exposes."""
    found: dict[str, int] = {}
    for line in Path(config_site).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define" and parts[2].isdigit():
            found[parts[1]] = int(parts[2])
    missing = [c for c in LIMITS.values() if c not in found]
    if missing:
        raise ValueError(f"{config_site} does not define {', '.join(missing)}")
    return {name: found[c] for name, c in LIMITS.items()}


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main(lib_dir: str, out_dir: str, version: str, config_site: str) -> int:
    lib = Path(lib_dir)
    wrapper = lib / "pjsua2.py"
    modules = sorted(lib.glob("_pjsua2*.so"))
    if not wrapper.is_file() or len(modules) != 1:
        print(f"pack_wheel: no pjsua2.py and one _pjsua2*.so in {lib}", file=sys.stderr)
        return 1
    values = limits(config_site)
    calls = values["MAX_CALLS"]
    build = '"""Compile-time limits of this pjsua2 build (scripts/pjproject/config_site.h)."""\n\n'
    build += "".join(f"{name} = {value}\n" for name, value in values.items())
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    name = f"pjsua2_python-{version}"
    files: dict[str, bytes] = {
        "pjsua2/__init__.py": INIT.format(
            pj=version.split(".post")[0], calls=calls, version=version
        ).encode(),
        "pjsua2/_relais_build.py": build.encode(),
        "pjsua2/pjsua2.py": wrapper.read_bytes(),
        f"pjsua2/_pjsua2{ext}": modules[0].read_bytes(),
        f"{name}.dist-info/METADATA": (
            "Metadata-Version: 2.1\n"
            "Name: pjsua2-python\n"
            f"Version: {version}\n"
            "Summary: pjsua2 Python bindings of pjproject, built by relais with lifted limits\n"
            "License: GPL-2.0-or-later\n"
        ).encode(),
        f"{name}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\n"
            "Generator: relais scripts/pjproject/pack_wheel.py\n"
            "Root-Is-Purelib: false\n"
            f"Tag: {tag}-{tag}-{platform}\n"
        ).encode(),
        f"{name}.dist-info/top_level.txt": b"pjsua2\n",
    }
    tap = lib / "librelais_tap.so"
    if tap.is_file():
        files["pjsua2/librelais_tap.so"] = tap.read_bytes()
    record = f"{name}.dist-info/RECORD"
    lines = [f"{path},{_digest(data)},{len(data)}" for path, data in files.items()]
    lines.append(f"{record},,")
    files[record] = ("\n".join(lines) + "\n").encode()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{name}-{tag}-{tag}-{platform}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    print(wheel)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
