"""Who may use the embedded broker: credentials relais generates, and the topics each may use.

Rules of this file:
- Two broker users: `relais` (every relais process: publishes and subscribes to everything)
  and `observer` (monitoring tools: subscribes under relais/, publishes nothing, so it can
  never send a command such as outdial.request). Anonymous clients are refused.
- Their passwords are random, generated once per installation and kept in
  <storage_root>/bus-credentials.toml with mode 0600; every relais process of the installation
  reads them from there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "bus-credentials.toml"
RELAIS_USER = "relais"
OBSERVER_USER = "observer"

PUBLISH_ACL: dict[str, list[str]] = {RELAIS_USER: ["#"], OBSERVER_USER: []}
SUBSCRIBE_ACL: dict[str, list[str]] = {RELAIS_USER: ["#"], OBSERVER_USER: ["relais/#"]}


@dataclass(frozen=True)
class BusCredentials:
    """The passwords of the embedded broker's users. `repr()` never shows them."""

    relais: str = field(repr=False)
    observer: str = field(repr=False)

    def users(self) -> dict[str, str]:
        return {RELAIS_USER: self.relais, OBSERVER_USER: self.observer}


def credentials_path(storage_root: Path) -> Path:
    return storage_root / FILE_NAME


def bus_credentials(storage_root: Path) -> BusCredentials:
    """The installation's broker credentials, generated (mode 0600) on first use."""
    path = credentials_path(storage_root)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = "\n".join(
            [
                "# Credentials of the embedded MQTT broker (generated; keep it private).",
                f'{RELAIS_USER} = "{secrets.token_urlsafe(24)}"',
                f'{OBSERVER_USER} = "{secrets.token_urlsafe(24)}"',
                "",
            ]
        )
        tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        # Another process may have made it meanwhile: the first one stays.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    data = tomllib.loads(path.read_text())
    try:
        return BusCredentials(relais=str(data[RELAIS_USER]), observer=str(data[OBSERVER_USER]))
    except KeyError as exc:
        raise ValueError(f"{path}: no password for the broker user {exc.args[0]}") from None
