"""`relais account|line|device list|show|set|remove`, `relais messages list`, --json, removals
that ask first, plain --help, and `relais status` from any folder (issue: a newcomer's first
hour)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from relais.cli import app
from store.files import FileStore
from store.models import Message
from store.session import Store
from tests.integration.test_cli import RELAIS, backend_env, env, ok, refused, relais_inproc
from tests.support.deposit import deposit

__all__ = ["backend_env", "env"]

A, A2, B = "6135550100", "6135550101", "8195550177"


def js(env: dict[str, str], *args: str) -> Any:
    return json.loads(ok(env, *args, "--json"))


def provision(env: dict[str, str]) -> None:
    ok(env, "account", "add", "--number", A, "--name", "Jeanne Tremblay",
       "--password", "motdepasse-2026", "--pin", "4826")  # fmt: skip
    ok(env, "line", "add", "--account", A, "--number", A2)
    ok(env, "account", "add", "--number", B, "--name", "Luc Bélanger",
       "--password", "autremotdepasse", "--pin", "9081", "--language", "en")  # fmt: skip
    ok(env, "device", "add", "--number", A, "--username", "jeanne-desk",
       "--password", "desk-phone-2026")  # fmt: skip
    ok(env, "device", "add", "--number", A2, "--username", "jeanne-soft",
       "--password", "soft-phone-2026", "--contact", "sip:jeanne@192.0.2.10:5060")  # fmt: skip


def removal(env: dict[str, str], answer: str, *args: str) -> tuple[int, str, str]:
    clear = {k: None for k in os.environ if k.startswith("RELAIS_")}
    r = CliRunner().invoke(app, list(args), env={**clear, **env}, input=answer)
    return r.exit_code, r.stdout, r.stderr


def test_list_show_and_set(backend_env: dict[str, str]) -> None:
    env = backend_env
    provision(env)
    accounts = js(env, "account", "list")
    assert [(a["number"], a["name"], a["lines"]) for a in accounts] == [
        (A, "Jeanne Tremblay", [A, A2]),
        (B, "Luc Bélanger", [B]),
    ]
    text = ok(env, "account", "list")
    assert text.splitlines()[0].split() == ["NUMBER", "NAME", "LANG", "LINES"]
    assert f"{A}  Jeanne Tremblay  fr    {A} {A2}" in text
    shown = js(env, "account", "show", A2)  # any line of the account finds it
    assert shown["number"] == A and [ln["number"] for ln in shown["lines"]] == [A, A2]
    assert shown["lines"][0]["devices"] == ["jeanne-desk"]
    assert shown["lines"][0]["primary"] is True and shown["lines"][1]["primary"] is False
    lines = js(env, "line", "list", "--account", A)
    assert [ln["number"] for ln in lines] == [A, A2]
    assert js(env, "line", "show", A2)["devices"] == ["jeanne-soft"]
    devices = js(env, "device", "list")
    assert [(d["username"], d["line"]) for d in devices] == [
        ("jeanne-desk", A),
        ("jeanne-soft", A2),
    ]
    assert js(env, "device", "list", "--number", A2)[0]["contact"] == "sip:jeanne@192.0.2.10:5060"
    soft = js(env, "device", "show", "jeanne-soft")
    assert soft["address"] == "sip:jeanne-soft@relais.local" and "ha1" not in soft

    changed = js(env, "account", "set", A, "--name", "Jeanne T.", "--language", "en",
                 "--timezone", "America/Vancouver", "--password", "unautremotdepasse")  # fmt: skip
    assert changed["changed"] == ["name", "language", "timezone", "password"]
    assert (changed["name"], changed["language"], changed["timezone"]) == (
        "Jeanne T.", "en", "America/Vancouver",
    )  # fmt: skip
    mailbox = js(env, "line", "set", A2, "--quota-seconds", "7200", "--language", "en")
    assert (mailbox["quota_seconds"], mailbox["language"]) == (7200, "en")
    assert js(env, "device", "set", "jeanne-soft", "--contact", "")["contact"] is None
    assert "password changed" in ok(
        env, "device", "set", "jeanne-desk", "--password", "new-desk-pw-1"
    )


def test_bad_changes_are_refused_and_change_nothing(env: dict[str, str]) -> None:
    provision(env)
    assert refused(env, "account", "set", A) == (
        "error: nothing to change: give --name, --language, --timezone, --password, --pin or "
        "--unlock"
    )
    assert refused(env, "account", "set", A, "--language", "de", "--name", "X") == (
        "error: the language must be fr or en"
    )
    assert js(env, "account", "show", A)["name"] == "Jeanne Tremblay"  # nothing half-done
    assert refused(env, "account", "set", A, "--timezone", "Mars/Olympus") == (
        "error: unknown time zone 'Mars/Olympus'"
    )
    assert refused(env, "account", "show", "6135559999") == "error: line 6135559999 does not exist"
    assert refused(env, "line", "set", A, "--quota-seconds", "5") == (
        "error: the quota must be 60 to 360000 seconds"
    )
    assert refused(env, "device", "show", "nobody") == "error: no device sip:nobody@relais.local"
    assert refused(env, "device", "set", "jeanne-soft", "--contact", "not a uri").startswith(
        "error: 'not a uri' is not a SIP URI"
    )
    assert refused(env, "line", "remove", A, "--yes") == (
        f"error: {A} is the primary line of its account: remove the account instead"
    )
    assert refused(env, "messages", "list", "--number", A, "--folder", "trash") == (
        "error: the folder must be inbox or deleted"
    )
    r = relais_inproc(env, "account", "set", A, "--pin", "1111")
    assert r.returncode == 1 and "1111" not in r.stdout + r.stderr


def test_removals_ask_first_and_take_the_files_with_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    provision(env)
    root = Path(env["RELAIS_STORAGE_ROOT"])
    store = Store(f"sqlite:///{root / 'relais.db'}")
    files = FileStore(root)
    kept = deposit(store, files, A)
    gone = [deposit(store, files, A2), deposit(store, files, A2, kind="fax")]
    with store.read() as s:
        paths = {
            d.message_id: root / s.get(Message, d.message_id).file_path  # type: ignore[union-attr]
            for d in [kept, *gone]
        }
    store.dispose()
    assert all(p.is_file() for p in paths.values())

    code, out, err = removal(env, "n\n", "line", "remove", A2)
    assert code == 1 and "Remove line 6135550101: 2 message(s), 1 device(s)?" in out
    assert err.strip() == "error: nothing removed (answer y, or give --yes)"
    code, _, err = removal(env, "", "device", "remove", "jeanne-desk")  # no answer at all
    assert code == 1 and "nothing removed" in err
    assert len(js(env, "device", "list")) == 2

    code, out, _ = removal(env, "y\n", "line", "remove", A2)
    assert code == 0 and "removed line 6135550101" in out
    assert [ln["number"] for ln in js(env, "line", "list", "--account", A)] == [A]
    assert [d["username"] for d in js(env, "device", "list")] == ["jeanne-desk"]
    assert paths[kept.message_id].is_file()
    assert not any(paths[d.message_id].exists() for d in gone)

    removed = js(env, "device", "remove", "jeanne-desk", "--yes")
    assert removed["removed"] == "device" and js(env, "device", "list") == []
    assert js(env, "account", "remove", A, "--yes") == {"removed": "account", "lines": [A]}
    assert [a["number"] for a in js(env, "account", "list")] == [B]
    assert not paths[kept.message_id].exists()


def test_messages_list(env: dict[str, str]) -> None:
    provision(env)
    root = Path(env["RELAIS_STORAGE_ROOT"])
    store = Store(f"sqlite:///{root / 'relais.db'}")
    files = FileStore(root)
    from datetime import UTC, datetime

    old = deposit(store, files, A, received_at=datetime(2026, 9, 20, 17, 42, tzinfo=UTC))
    new = deposit(store, files, A, urgent=True, caller_number=None,
                  received_at=datetime(2026, 9, 21, 12, 0, tzinfo=UTC))  # fmt: skip
    fax = deposit(store, files, A, kind="fax", received_at=datetime(2026, 9, 19, tzinfo=UTC))
    deposit(store, files, A2)
    with store.transaction() as s:
        m = s.get(Message, old.message_id)
        assert m is not None
        m.heard = True
    store.dispose()
    listed = js(env, "messages", "list", "--number", A)
    assert [m["id"] for m in listed] == [new.message_id, fax.message_id, old.message_id]
    assert listed[0]["caller_number"] is None and listed[0]["urgent"] is True
    assert listed[2]["received_at"] == "2026-09-20T13:42:00-04:00"  # the account's time zone
    text = ok(env, "messages", "list", "--number", A, "--limit", "2").splitlines()
    assert text[0].split() == ["ID", "KIND", "STATE", "CALLER", "RECEIVED", "LENGTH"]
    assert len(text) == 3 and "anonymous" in text[1] and "urgent" in text[1]
    assert ok(env, "messages", "list", "--number", A, "--folder", "deleted").strip() == (
        f"no message in deleted of {A}"
    )


def test_help_shows_no_type_tag_after_flags() -> None:
    for args in (["--help"], ["run", "--help"], ["account", "remove", "--help"]):
        r = subprocess.run([RELAIS, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "Usage" in r.stdout
        assert "<bool>" not in r.stdout, r.stdout
    assert (
        "--no-edge        run without Kamailio"
        in subprocess.run(
            [RELAIS, "run", "--help"], capture_output=True, text=True, timeout=60
        ).stdout
    )


@pytest.mark.parametrize("where", ["site", "elsewhere"])
def test_status_from_any_folder_finds_the_same_store_and_never_creates_one(
    tmp_path: Path, where: str
) -> None:
    site = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    (site / "relais.toml").write_text('storage_root = "data"\n')
    e = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    e["RELAIS_CONFIG"] = str(site / "relais.toml")

    def run(cwd: Path, *args: str) -> str:
        r = subprocess.run([RELAIS, *args], env=e, cwd=cwd, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = run(tmp_path / where, "status")
    assert f"store   : none at {site / 'data' / 'relais.db'}" in out
    assert "services: not running" in out
    assert not (site / "data").exists() and not (tmp_path / where / "var").exists()
    run(site, "db", "upgrade")
    assert "(up to date)" in run(tmp_path / where, "status")
