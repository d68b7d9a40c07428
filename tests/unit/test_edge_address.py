"""sip_host: 127.0.0.1 by default (the embedded demo serves this machine only), and what
`relais run` prints about it once the edge is up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.settings import load_settings
from relais import edge


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k in list(os.environ):
        if k.startswith("RELAIS_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)  # no ./relais.toml


def test_the_sip_edge_listens_on_loopback_by_default(clean_env: None) -> None:
    cfg = load_settings()
    assert cfg.sip_host == "127.0.0.1"
    assert edge.listen_hosts(cfg.sip_host) == ["127.0.0.1"]
    assert edge.address(cfg) == (
        "edge sip:127.0.0.1:5060 (udp, tcp; SIP domain relais.local; sip_host 127.0.0.1: "
        "this machine only; set sip_host to serve phones on the network)"
    )


@pytest.mark.parametrize(
    ("host", "shown", "reach"),
    [
        ("0.0.0.0", "sip:192.0.2.10:5060", "sip_host 0.0.0.0: every interface"),
        ("192.0.2.10", "sip:192.0.2.10:5060", "sip_host 192.0.2.10: the network"),
    ],
)
def test_relais_run_says_who_can_reach_the_edge(
    clean_env: None, host: str, shown: str, reach: str
) -> None:
    cfg = load_settings(sip_host=host, sip_advertised_host="192.0.2.10")
    assert edge.address(cfg).startswith(f"edge {shown} ")
    assert edge.address(cfg).endswith(f"; {reach})")


def test_the_workers_port_must_not_be_the_public_one(clean_env: None, tmp_path: Path) -> None:
    cfg = load_settings(
        storage_root=tmp_path / "var",
        edge={**load_settings().edge.model_dump(), "worker_port": 5060},
    )
    with pytest.raises(ValueError, match="^edge.worker_port must differ from sip_port$"):
        edge.render(cfg, 1)
