"""Settings: defaults from config/defaults.toml, relais.toml, RELAIS_* variables, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("RELAIS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_come_from_defaults_toml() -> None:
    s = load_settings()
    assert s.sip_port == 5060
    assert s.portal_port == 8080
    assert s.pilot_number == "*98"
    assert s.mailbox.quota_seconds == 3600
    assert s.mailbox.max_message_seconds == 180
    assert s.dialplan.blocked_area_codes == ("900", "976")
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.effective_database_url.endswith("/var/relais.db")


def test_environment_overrides_top_level_and_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_SIP_PORT", "5062")
    monkeypatch.setenv("RELAIS_MAILBOX__QUOTA_SECONDS", "7200")
    monkeypatch.setenv("RELAIS_DATABASE_URL", "postgresql+psycopg://u:p@db/relais")
    s = load_settings()
    assert s.sip_port == 5062
    assert s.mailbox.quota_seconds == 7200
    assert s.mailbox.max_message_seconds == 180  # the rest of the section keeps its default
    assert not s.is_sqlite


def test_toml_file_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        'portal_port = 9090\ntrunk_uri = "sip:gw.example.net"\n[mailbox]\nquota_seconds = 60\n'
    )
    monkeypatch.setenv("RELAIS_CONFIG", str(cfg))
    s = load_settings()
    assert (s.portal_port, s.trunk_uri, s.mailbox.quota_seconds) == (9090, "sip:gw.example.net", 60)
    monkeypatch.setenv("RELAIS_PORTAL_PORT", "9191")
    assert load_settings().portal_port == 9191


def test_relais_toml_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "relais.toml").write_text("workers = 3\n")
    assert load_settings().workers == 3


def test_default_layout_is_two_workers_per_core_with_128_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    s = load_settings()
    assert (s.workers, s.max_calls_per_worker) == (4, 128)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert load_settings().workers == 16
    monkeypatch.setenv("RELAIS_WORKERS", "3")
    assert load_settings().workers == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RELAIS_SIP_PORT": "70000"}, "sip_port: 70000 is not a port number (1..65535)"),
        ({"RELAIS_SIP_PORT": "five"}, "sip_port: Input should be a valid integer"),
        ({"RELAIS_TIMEZONE": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"RELAIS_TRUNK_URI": "gw.example.net"}, "trunk_uri: 'gw.example.net' is not a SIP URI"),
        ({"RELAIS_LANGUAGE": "de"}, "language: Input should be 'fr' or 'en'"),
        ({"RELAIS_ACCESS_NUMBER": "12345"}, "access_number: '12345' is not a 10-digit number"),
        (
            {"RELAIS_MAILBOX__QUOTA_SECONDS": "0"},
            "mailbox.quota_seconds: Input should be greater than 0",
        ),
        (
            {"RELAIS_DIALPLAN__BLOCKED_AREA_CODES": '["9000"]'},
            "dialplan.blocked_area_codes: '9000' is not a 3-digit code",
        ),
        (
            {"RELAIS_DATABASE_URL": "mysql://x"},
            "database_url: only sqlite:// and postgresql:// URLs",
        ),
        ({"RELAIS_BOGUS": "1"}, None),  # unknown variables are ignored, not fatal
    ],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str | None
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if message is None:
        load_settings()
        return
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value).startswith(message)


def test_unknown_key_in_toml_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "x.toml"
    cfg.write_text("sip_prot = 5060\n")
    monkeypatch.setenv("RELAIS_CONFIG", str(cfg))
    with pytest.raises(SettingsError, match="^sip_prot: unknown setting$"):
        load_settings()


def test_smtp_url_error_does_not_echo_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_SMTP_URL", "http://user:hunter22@mail")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "hunter22" not in str(err.value)
    assert str(err.value).startswith("smtp_url: not an smtp:// URL")


def test_missing_config_file_and_bad_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAIS_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="RELAIS_CONFIG: .*nope.toml is not a readable file"):
        load_settings()
    bad = tmp_path / "bad.toml"
    bad.write_text("workers = = 2\n")
    monkeypatch.setenv("RELAIS_CONFIG", str(bad))
    with pytest.raises(SettingsError, match="bad.toml: not valid TOML"):
        load_settings()


def test_the_default_storage_root_is_the_same_from_any_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from config.settings import HOME

    here = load_settings().storage_root
    assert here == (HOME / "var").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings().storage_root == here


def test_a_relative_storage_root_is_taken_from_its_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "relais.toml").write_text('storage_root = "data"\n')
    monkeypatch.setenv("RELAIS_CONFIG", str(site / "relais.toml"))
    monkeypatch.chdir("/")
    assert load_settings().storage_root == (site / "data").resolve()
