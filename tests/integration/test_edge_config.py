"""The edge's configuration renderer (relais/edge.py): database URLs for Kamailio, trusted
networks, the trunk's address, the rendered files and clear errors for what Kamailio cannot
use."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings, SettingsError, load_settings
from relais import edge


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("RELAIS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def settings(tmp_path: Path, **over: Any) -> Settings:
    return load_settings(storage_root=tmp_path / "var", **over)


def test_sqlite_url_becomes_an_absolute_db_sqlite_url(tmp_path: Path) -> None:
    assert edge.kamailio_db_url(f"sqlite:///{tmp_path}/relais.db") == (
        "db_sqlite",
        f"sqlite://{tmp_path}/relais.db",
    )
    module, url = edge.kamailio_db_url("sqlite:///var/relais.db")  # relative to the cwd
    assert (module, url) == ("db_sqlite", f"sqlite://{tmp_path}/var/relais.db")


def test_postgresql_url_becomes_a_db_postgres_url() -> None:
    assert edge.kamailio_db_url("postgresql+psycopg://relais:s3cret@db.example:5433/voice") == (
        "db_postgres",
        "postgres://relais:s3cret@db.example:5433/voice",
    )
    assert edge.kamailio_db_url("postgresql://postgres@127.0.0.1/relais") == (
        "db_postgres",
        "postgres://postgres@127.0.0.1/relais",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "the edge needs a SQLite store in a file, not in memory"),
        (
            "postgresql+psycopg://u:p@/relais",
            "the edge needs the PostgreSQL host in the database URL",
        ),
        (
            "postgresql+psycopg://u:p%40ss@db/relais",
            'Kamailio cannot use a PostgreSQL password containing @ : / ? # " \\ $ or spaces',
        ),
    ],
)
def test_database_urls_kamailio_cannot_use_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        edge.kamailio_db_url(url)
    assert str(err.value) == message


def test_trusted_addresses_become_networks() -> None:
    assert edge.trusted_networks(("127.0.0.1", "10.1.0.0/16", "192.0.2.7/24")) == (
        "127.0.0.1/32,10.1.0.0/16,192.0.2.0/24"
    )
    with pytest.raises(ValueError) as err:
        edge.trusted_networks(("gw.example.net",))
    assert str(err.value) == "trusted_addresses: 'gw.example.net' is not an IP address or network"


def test_trunk_host_and_port() -> None:
    assert edge.trunk_parts("sip:gw.example.net:5080") == {
        "trunk_host": "gw.example.net",
        "trunk_port": "5080",
    }
    assert edge.trunk_parts("sip:gw.example.net;transport=tcp") == {
        "trunk_host": "gw.example.net",
        "trunk_port": "",
    }
    assert edge.trunk_parts("") == {"trunk_host": "", "trunk_port": ""}


def test_render_writes_the_config_and_the_worker_list(tmp_path: Path) -> None:
    cfg = settings(
        tmp_path,
        sip_port=5062,
        switch_base_port=5080,
        trunk_uri="sip:gw.example.net:5070",
        edge={**load_settings().edge.model_dump(), "extra_workers": ["10.0.0.7:5070"]},
    )
    files = edge.render(cfg, workers=3)
    assert files.dispatcher_list.read_text().splitlines()[1:] == [
        "1 sip:127.0.0.1:5080 0 0 duid=w0",
        "1 sip:127.0.0.1:5081 0 0 duid=w1",
        "1 sip:127.0.0.1:5082 0 0 duid=w2",
        "1 sip:10.0.0.7:5070 0 0 duid=w3",
    ]
    text = files.cfg.read_text()
    assert 'loadmodule "db_sqlite.so"' in text
    assert "listen=udp:127.0.0.1:5062" in text and "listen=tcp:127.0.0.1:5062" in text
    assert '$rd = "gw.example.net";' in text and "$rp = 5070;" in text
    assert "{{" not in text and "{%" not in text
    # The database URL may carry a password: only the owner reads these files.
    assert stat.S_IMODE(files.cfg.stat().st_mode) == 0o600
    assert edge.command(cfg, files)[:4] == ["/usr/sbin/kamailio", "-DD", "-E", "-f"]


def test_a_wildcard_address_listens_on_every_local_address(tmp_path: Path) -> None:
    hosts = edge.listen_hosts("0.0.0.0")
    assert hosts[0] == "127.0.0.1" and "0.0.0.0" not in hosts
    text = edge.render(settings(tmp_path, sip_host="0.0.0.0"), workers=1).cfg.read_text()
    assert "0.0.0.0" not in text


def test_without_kamailio_relais_runs_without_the_edge(tmp_path: Path) -> None:
    cfg = settings(tmp_path, edge={**load_settings().edge.model_dump(), "kamailio_bin": "/nope"})
    assert not edge.wanted(cfg, no_edge=False)
    assert edge.children(cfg, no_edge=False, workers=1) == []
    present = settings(tmp_path)
    assert not edge.wanted(present, no_edge=True)


def test_a_bad_extra_worker_is_refused_with_the_setting_name(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        settings(tmp_path, edge={**load_settings().edge.model_dump(), "extra_workers": ["w:x"]})
    assert (
        str(err.value) == "edge.extra_workers: 'w:x' is not a worker address such as 10.0.0.7:5070"
    )


def test_registration_bounds_must_be_in_order(tmp_path: Path) -> None:
    edge_defaults = load_settings().edge.model_dump()
    with pytest.raises(SettingsError) as err:
        settings(
            tmp_path,
            edge={**edge_defaults, "register_min_expires": 600, "register_max_expires": 300},
        )
    assert str(err.value) == "edge: register_min_expires is above register_max_expires"
