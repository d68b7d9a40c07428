"""The `relais` command (SPEC S14): each command, each bad input, one-line errors.

The installed console script runs as a subprocess for the end-to-end paths; the many
bad-input cases run the same typer app in-process (CliRunner), which is much faster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from relais.cli import app
from store import credentials
from store.models import Account, Device, Line, Mailbox
from store.session import Store

RELAIS = str(Path(sys.executable).with_name("relais"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """SQLite under a temporary storage root."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    e.update(RELAIS_STORAGE_ROOT=str(tmp_path / "var"))
    return e


@pytest.fixture
def backend_env(env: dict[str, str], database_url: str) -> dict[str, str]:
    """The same, once with SQLite and once with PostgreSQL."""
    return {**env, "RELAIS_DATABASE_URL": database_url}


def relais(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script."""
    return subprocess.run([RELAIS, *args], env=env, capture_output=True, text=True, timeout=60)


def relais_inproc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the same typer app in this process, with `env` as the whole RELAIS_* environment."""
    clear = {k: None for k in os.environ if k.startswith("RELAIS_")}
    result = CliRunner().invoke(app, list(args), env={**clear, **env})
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def ok(env: dict[str, str], *args: str) -> str:
    r = relais_inproc(env, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def refused(env: dict[str, str], *args: str) -> str:
    r = relais_inproc(env, *args)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr  # one line, no traceback
    return lines[0]


def test_provisioning_commands(backend_env: dict[str, str], database_url: str) -> None:
    """The installed console script against each backend."""

    def script(*args: str) -> str:
        r = relais(backend_env, *args)
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert "store ready" in script("db", "upgrade")
    script(
        "account",
        "add",
        "--number",
        "6135550100",
        "--name",
        "Jeanne Tremblay",
        "--password",
        "motdepasse1",
        "--pin",
        "4826",
        "--language",
        "en",
    )
    script("line", "add", "--account", "6135550100", "--number", "6135550101")
    out = script(
        "device",
        "add",
        "--number",
        "6135550101",
        "--username",
        "desk101",
        "--password",
        "sip-secret-1",
        "--contact",
        "sip:desk101@127.0.0.1:5090",
    )
    assert out.strip() == "device added: sip:desk101@relais.local on line 6135550101"
    bad = relais(backend_env, "line", "add", "--account", "6135550100", "--number", "6135550101")
    assert (bad.returncode, bad.stderr) == (1, "error: the number 6135550101 is already in use\n")
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(
            sa.select(Line.number, Line.is_primary).order_by(Line.number)
        ).all() == [("6135550100", True), ("6135550101", False)]
        assert (
            conn.execute(
                sa.select(Mailbox.language).where(Mailbox.line_number == "6135550100")
            ).scalar()
            == "en"
        )
        dev = conn.execute(sa.select(Device.username, Device.contact_uri)).one()
        assert tuple(dev) == ("desk101", "sip:desk101@127.0.0.1:5090")
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--number", "613555010", "--pin", "4826", "--password", "motdepasse1"],
            "error: the number must have exactly 10 digits (got 9)",
        ),
        (
            ["--number", "6135550102", "--pin", "1111", "--password", "motdepasse1"],
            "error: the PIN cannot repeat a single digit",
        ),
        (
            ["--number", "6135550102", "--pin", "2345", "--password", "motdepasse1"],
            "error: the PIN cannot be a run of ascending or descending digits",
        ),
        (
            ["--number", "6135550102", "--pin", "4826", "--password", "short"],
            "error: the password must have at least 10 characters",
        ),
        (
            ["--number", "6135550100", "--pin", "4826", "--password", "motdepasse1"],
            "error: the number 6135550100 is already in use",
        ),
        (
            [
                "--number",
                "6135550102",
                "--pin",
                "4826",
                "--password",
                "motdepasse1",
                "--timezone",
                "Nowhere/City",
            ],
            "error: unknown time zone 'Nowhere/City'",
        ),
    ],
)
def test_account_add_bad_input(env: dict[str, str], args: list[str], message: str) -> None:
    ok(
        env,
        "account",
        "add",
        "--number",
        "6135550100",
        "--name",
        "A",
        "--password",
        "motdepasse1",
        "--pin",
        "4826",
    )
    assert refused(env, "account", "add", "--name", "B", *args) == message


def test_line_and_device_bad_input(env: dict[str, str]) -> None:
    ok(
        env,
        "account",
        "add",
        "--number",
        "6135550100",
        "--name",
        "A",
        "--password",
        "motdepasse1",
        "--pin",
        "4826",
    )
    assert refused(env, "line", "add", "--account", "6135550199", "--number", "6135550101") == (
        "error: line 6135550199 does not exist"
    )
    assert refused(env, "line", "add", "--account", "6135550100", "--number", "6135550100") == (
        "error: the number 6135550100 is already in use"
    )
    assert refused(
        env,
        "device",
        "add",
        "--number",
        "6135550100",
        "--username",
        "a b",
        "--password",
        "sip-secret-1",
    ) == ("error: the SIP username must be 1 to 64 letters, digits, '.', '_' or '-'")
    assert refused(
        env, "device", "add", "--number", "6135550100", "--username", "ab", "--password", "x"
    ) == ("error: the SIP password must have at least 8 characters")
    assert refused(
        env,
        "device",
        "add",
        "--number",
        "6135550100",
        "--username",
        "ab",
        "--password",
        "sip-secret-1",
        "--contact",
        "http://x",
    ) == ("error: 'http://x' is not a SIP URI such as sip:alice@192.0.2.10:5060")


def demo_file(env: dict[str, str]) -> Path:
    return Path(env["RELAIS_STORAGE_ROOT"]) / "demo-credentials.toml"


def test_demo_is_made_once_with_secrets_of_its_own(env: dict[str, str], tmp_path: Path) -> None:
    first = ok(env, "demo")
    assert first.startswith("demo account created (these secrets are shown once):")
    path = demo_file(env)
    assert (path.stat().st_mode & 0o777) == 0o600
    creds = tomllib.loads(path.read_text())
    for key in ("portal_password", "voicemail_pin", "sip_password"):
        assert creds[key] in first  # printed once, for the operator
    assert "relais-demo" not in first and "demo-phone-2026" not in first
    store = Store(f"sqlite:///{tmp_path / 'var' / 'relais.db'}")
    try:
        with store.read() as s:
            account = s.scalar(sa.select(Account))
            mailbox = s.get(Mailbox, "6135550100")
            device = s.scalar(sa.select(Device))
            assert account is not None and mailbox is not None and device is not None
            assert credentials.verify_secret(account.password_hash, creds["portal_password"])
            assert credentials.verify_secret(mailbox.pin_hash, creds["voicemail_pin"])
            assert device.ha1 == credentials.digest_ha1(
                "6135550100", "relais.local", creds["sip_password"]
            )
    finally:
        store.dispose()
    second = ok(env, "demo")
    assert second.strip() == f"demo account: made before; its credentials are in {path}"
    assert creds["portal_password"] not in second  # shown once only

    # Another installation gets other secrets.
    other = {**env, "RELAIS_STORAGE_ROOT": str(tmp_path / "other")}
    ok(other, "demo")
    theirs = tomllib.loads(demo_file(other).read_text())
    assert all(theirs[k] != creds[k] for k in ("portal_password", "sip_password"))


def test_a_removed_demo_is_not_made_again(env: dict[str, str], tmp_path: Path) -> None:
    ok(env, "demo")
    for suffix in ("", "-wal", "-shm"):  # the whole store goes: only the record stays
        (tmp_path / "var" / f"relais.db{suffix}").unlink(missing_ok=True)
    assert ok(env, "demo").startswith("demo account: made before")
    store = Store(f"sqlite:///{tmp_path / 'var' / 'relais.db'}")
    try:
        with store.read() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Account)) == 0
    finally:
        store.dispose()


def test_the_demo_is_made_only_on_an_empty_store(env: dict[str, str]) -> None:
    ok(
        env,
        "account",
        "add",
        "--number",
        "6135550177",
        "--name",
        "A",
        "--password",
        "Tr0ub4dor&3x",
        "--pin",
        "9081",
    )
    assert ok(env, "demo").strip() == "demo account: not made (the store already has accounts)"
    assert not demo_file(env).exists()


def test_the_demo_is_refused_beyond_loopback_unless_asked(env: dict[str, str]) -> None:
    public = {**env, "RELAIS_PORTAL_HOST": "0.0.0.0", "RELAIS_SIP_HOST": "192.0.2.7"}
    assert ok(public, "demo").strip() == (
        "demo account: not made because the portal listens on 0.0.0.0 (portal_host) and the SIP "
        "edge listens on 192.0.2.7 (sip_host); set demo.allow_public = true (or run relais demo "
        "--allow-public) to make it anyway"
    )
    assert not demo_file(env).exists()
    assert ok(public, "demo", "--allow-public").startswith("demo account created")
    assert demo_file(env).exists()


def test_bad_settings_stop_the_command(env: dict[str, str]) -> None:
    env = {**env, "RELAIS_SIP_PORT": "0"}
    assert refused(env, "db", "upgrade") == "error: sip_port: 0 is not a port number (1..65535)"


def test_secrets_never_reach_the_output(env: dict[str, str]) -> None:
    r = relais_inproc(
        {**env, "RELAIS_LOG_LEVEL": "DEBUG"},
        "account",
        "add",
        "--number",
        "6135550100",
        "--name",
        "A",
        "--password",
        "Tr0ub4dor&3",
        "--pin",
        "9081",
    )
    assert r.returncode == 0
    assert "Tr0ub4dor&3" not in r.stdout + r.stderr and "9081" not in r.stdout + r.stderr


def test_every_command_has_help(env: dict[str, str]) -> None:
    for args in (
        ["--help"],
        ["db", "upgrade", "--help"],
        ["account", "add", "--help"],
        ["line", "add", "--help"],
        ["device", "add", "--help"],
        ["demo", "--help"],
        ["run", "--help"],
        ["status", "--help"],
    ):
        assert "Usage" in ok(env, *args)


def test_status_reports_store_and_outbox(env: dict[str, str]) -> None:
    ok(env, "db", "upgrade")
    out = ok(env, "status")
    assert "(up to date)" in out and "outbox  : 0 event(s)" in out
    assert "storage : " in out and "LOW" not in out
    low = ok({**env, "RELAIS_MAILBOX__MIN_FREE_MB": str(10**12)}, "status")
    assert f"below mailbox.min_free_mb ({10**12}), callers cannot leave messages" in low


def test_account_dialing_permissions(env: dict[str, str], tmp_path: Path) -> None:
    ok(env, "account", "add", "--number", "6135550177", "--name", "A", "--password",
       "Tr0ub4dor&3x", "--pin", "9081")  # fmt: skip
    assert ok(env, "account", "dialing", "--number", "6135550177").strip() == (
        "account of 6135550177: NANP numbers outside Canada and the US: refused; "
        "international numbers: refused"
    )
    assert ok(env, "account", "dialing", "--number", "6135550177", "--nanp-abroad").strip() == (
        "account of 6135550177: NANP numbers outside Canada and the US: allowed; "
        "international numbers: refused"
    )
    store = Store(f"sqlite:///{tmp_path / 'var' / 'relais.db'}")
    try:
        with store.read() as s:
            account = s.scalar(sa.select(Account))
            assert account is not None and account.allow_nanp_abroad
            assert not account.allow_international
    finally:
        store.dispose()
    assert refused(env, "account", "dialing", "--number", "6135550199") == (
        "error: line 6135550199 does not exist"
    )


def test_a_line_fax_number_is_set_checked_and_removed(env: dict[str, str]) -> None:
    for number in ("6135550100", "6135550200"):
        ok(env, "account", "add", "--number", number, "--name", "A", "--password",
           "motdepasse1", "--pin", "4826")  # fmt: skip
    assert ok(env, "line", "fax-number", "--line", "6135550100", "--fax-number", "6135550109") == (
        "fax number of 6135550100: 6135550109\n"
    )
    fax = ("line", "fax-number", "--line", "6135550200", "--fax-number")
    assert refused(env, *fax, "6135550109") == (
        "error: the fax number 6135550109 is already used by line 6135550100"
    )
    assert refused(env, *fax, "6135550100") == "error: the fax number 6135550100 is a line number"
    assert refused(env, *fax, "613555") == "error: the number must have exactly 10 digits (got 6)"
    assert refused(env, "line", "fax-number", "--line", "6135550999") == (
        "error: line 6135550999 does not exist"
    )
    assert refused(env, "line", "add", "--account", "6135550100", "--number", "6135550109") == (
        "error: the number 6135550109 is already in use as a fax number"
    )
    engine = sa.create_engine(f"sqlite:///{env['RELAIS_STORAGE_ROOT']}/relais.db")
    with engine.connect() as c:
        assert c.scalar(sa.select(Line.fax_number).where(Line.number == "6135550200")) is None
    assert (
        ok(env, "line", "fax-number", "--line", "6135550100") == "fax number of 6135550100: none\n"
    )
    with engine.connect() as c:
        assert c.scalar(sa.select(Line.fax_number).where(Line.number == "6135550100")) is None
    engine.dispose()
