"""The SIP edge: Kamailio's configuration rendered from the settings, and its command line.

`render()` writes <storage_root>/run/edge/kamailio.cfg (from config/kamailio/kamailio.cfg.j2)
and dispatcher.list (the switch workers); `command()` is what the supervisor runs, in the
foreground with logs on stderr. Kamailio reads the store itself: db_sqlite or db_postgres with
a URL derived from the store's SQLAlchemy URL (`kamailio_db_url()`).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import jinja2
import sqlalchemy as sa
from sqlalchemy.orm import Session

import config
from config.settings import Settings
from relais.run import Child, tcp_ready
from store.models import Location

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(config.__file__).resolve().parent / "kamailio"
TEMPLATE = "kamailio.cfg.j2"
WILDCARDS = ("0.0.0.0", "", "*")
MWI_FIRST_NOTIFY_WAIT_MS = 300
"""A new MWI subscription waits this long for a worker's re-assertion of the line's counts to
reach presence before it is served (its first NOTIFY then carries them)."""
_LOG_LEVELS = {"DEBUG": 2, "INFO": 1, "WARNING": 0, "ERROR": -1}  # Kamailio's; never debug (3)
_URL_UNSAFE = re.compile(r"[@:/?#\s\"\\$]")


@dataclass(frozen=True)
class EdgeFiles:
    cfg: Path
    dispatcher_list: Path
    runtime_dir: Path


def kamailio_db_url(database_url: str) -> tuple[str, str]:
    """(Kamailio database module, its URL) for a store URL (sqlite:/// or postgresql://)."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("the edge needs a SQLite store in a file, not in memory")
        return "db_sqlite", f"sqlite://{Path(url.database).resolve()}"
    if url.get_backend_name() == "postgresql":
        if not url.host:
            raise ValueError("the edge needs the PostgreSQL host in the database URL")
        user = url.username or "postgres"
        password = url.password or ""
        for name, value in (
            ("user name", user),
            ("password", password),
            ("database", url.database or ""),
        ):
            if _URL_UNSAFE.search(unquote(value)):
                raise ValueError(
                    f'Kamailio cannot use a PostgreSQL {name} containing @ : / ? # " \\ $ or spaces'
                )
        auth = f"{user}:{password}" if password else user
        port = f":{url.port}" if url.port else ""
        return "db_postgres", f"postgres://{auth}@{url.host}{port}/{url.database or user}"
    raise ValueError(f"the edge cannot use a {url.get_backend_name()} store")


def worker_addresses(cfg: Settings, workers: int) -> list[str]:
    """host:port of every switch worker: the local ones, then edge.extra_workers."""
    local = [f"{cfg.switch_host}:{cfg.switch_base_port + i}" for i in range(workers)]
    return local + list(cfg.edge.extra_workers)


def listen_hosts(host: str) -> list[str]:
    """The addresses Kamailio binds. A wildcard becomes every local IPv4 address: Kamailio puts
    its socket's address in Via and Record-Route, and 0.0.0.0 there would be unroutable."""
    if host not in WILDCARDS:
        return [host]
    import psutil

    found = {
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET
    }
    return sorted(found, key=lambda a: (a != "127.0.0.1", a))


def trusted_networks(addresses: tuple[str, ...]) -> str:
    """trusted_addresses as Kamailio's comma-separated subnet list."""
    nets = []
    for a in addresses:
        try:
            nets.append(str(ipaddress.ip_network(a, strict=False)))
        except ValueError:
            raise ValueError(f"trusted_addresses: {a!r} is not an IP address or network") from None
    return ",".join(nets)


def trunk_parts(trunk_uri: str) -> dict[str, str]:
    """Host and port of trunk_uri (sip:gw.example.net:5060): where calls out are addressed."""
    if not trunk_uri:
        return {"trunk_host": "", "trunk_port": ""}
    m = re.fullmatch(r"sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;]+)(?::(\d+))?(;.*)?", trunk_uri)
    if not m:
        raise ValueError(f"trunk_uri: {trunk_uri!r} has no host")
    return {"trunk_host": m.group(1), "trunk_port": m.group(2) or ""}


def _kstr(value: str) -> str:
    """A Kamailio double-quoted string literal (values never carry quotes or $)."""
    if any(c in value for c in '"\\$\r\n'):
        raise ValueError(f"cannot put {value!r} in Kamailio's configuration")
    return f'"{value}"'


def _check_domain(domain: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?", domain):
        raise ValueError(f"sip_domain: {domain!r} is not a host name")
    return domain


def render(cfg: Settings, workers: int) -> EdgeFiles:
    """Write kamailio.cfg and dispatcher.list under <storage_root>/run/edge/."""
    if cfg.edge.worker_port == cfg.sip_port:
        raise ValueError("edge.worker_port must differ from sip_port")
    base = (cfg.storage_root / "run" / "edge").resolve()
    base.mkdir(parents=True, exist_ok=True)
    files = EdgeFiles(base / "kamailio.cfg", base / "dispatcher.list", base / "runtime")
    files.runtime_dir.mkdir(exist_ok=True)
    db_module, db_url = kamailio_db_url(cfg.effective_database_url)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["kstr"] = _kstr
    edge = cfg.edge
    text = env.get_template(TEMPLATE).render(
        log_level=_LOG_LEVELS[cfg.log_level],
        children=edge.children,
        listen_hosts=listen_hosts(cfg.sip_host),
        port=cfg.sip_port,
        worker_port=edge.worker_port,
        domain=_check_domain(cfg.sip_domain),
        db_module=db_module,
        db_url=db_url,
        dispatcher_list=str(files.dispatcher_list),
        trusted=trusted_networks(cfg.trusted_addresses),
        pilot_number=cfg.pilot_number,
        access_number=cfg.access_number,
        trunk_uri=cfg.trunk_uri,
        **trunk_parts(cfg.trunk_uri),
        max_message_bytes=edge.max_message_bytes,
        max_forwards=edge.max_forwards,
        flood_requests=edge.flood_requests,
        ban_seconds=edge.ban_seconds,
        auth_failures=edge.auth_failures,
        auth_source_failures=edge.auth_source_failures,
        auth_user_failures=edge.auth_user_failures,
        auth_window_seconds=edge.auth_window_seconds,
        probe_interval=edge.probe_interval,
        worker_timeout_ms=edge.worker_timeout_ms,
        probe_timeout_ms=edge.probe_timeout_ms,
        mwi_first_notify_wait_ms=MWI_FIRST_NOTIFY_WAIT_MS,
        device_timeout_ms=edge.device_timeout_ms,
        register_min_expires=edge.register_min_expires,
        register_max_expires=edge.register_max_expires,
        max_contacts=edge.max_contacts,
        server_address=f"sip:{_public_host(cfg)}:{cfg.sip_port}",
        self_uri=f"sip:{listen_hosts(cfg.sip_host)[0]}:{cfg.sip_port}",
        publish_secret=secrets.token_hex(16),
        tcp_idle_seconds=edge.tcp_idle_seconds,
        tcp_max_connections=edge.tcp_max_connections,
        tcp_per_source=edge.tcp_per_source,
    )
    _write(files.cfg, text)
    lines = [
        f"1 sip:{addr} 0 0 duid=w{i}\n" for i, addr in enumerate(worker_addresses(cfg, workers))
    ]
    _write(files.dispatcher_list, "# setid destination flags priority attrs\n" + "".join(lines))
    return files


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)  # the database URL may carry a password
    os.replace(tmp, path)


def command(cfg: Settings, files: EdgeFiles) -> list[str]:
    """Kamailio in the foreground (-DD), logging to stderr (-E), TLSF memory manager."""
    return [
        cfg.edge.kamailio_bin,
        "-DD",
        "-E",
        "-f",
        str(files.cfg),
        "-Y",
        str(files.runtime_dir),
        "-P",
        str(files.runtime_dir / "kamailio.pid"),
        "-x",
        "tlsf",
        "-m",
        str(cfg.edge.shm_mb),
        "-M",
        str(cfg.edge.pkg_mb),
    ]


def installed(cfg: Settings) -> bool:
    return os.access(cfg.edge.kamailio_bin, os.X_OK)


def wanted(cfg: Settings, *, no_edge: bool) -> bool:
    """Whether `relais run` fronts the workers with Kamailio (enabled, installed, not --no-edge).
    When it does not, the switch runs one worker on the public SIP port (SPEC S1)."""
    return cfg.edge.enabled and not no_edge and installed(cfg)


def _public_host(cfg: Settings) -> str:
    """The address phones reach the edge at."""
    return cfg.sip_advertised_host if cfg.sip_host in WILDCARDS else cfg.sip_host


def address(cfg: Settings) -> str:
    """What `relais run` prints once the edge is up, sip_host included (the one setting that
    decides who can reach it)."""
    host = _public_host(cfg)
    if cfg.sip_host in WILDCARDS:
        reach = "every interface"
    elif _loopback(cfg.sip_host):
        reach = "this machine only; set sip_host to serve phones on the network"
    else:
        reach = "the network"
    return (
        f"edge sip:{host}:{cfg.sip_port} (udp, tcp; SIP domain {cfg.sip_domain}; "
        f"sip_host {cfg.sip_host or '0.0.0.0'}: {reach})"
    )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def children(cfg: Settings, *, no_edge: bool, workers: int, force: bool = False) -> list[Child]:
    """The edge's supervised process, rendered for `workers` local workers (or none).
    `force` (`relais edge`) runs it even when edge.enabled is off."""
    if not (wanted(cfg, no_edge=no_edge) or (force and installed(cfg))):
        if cfg.edge.enabled and not no_edge:
            logger.warning(
                "edge: Kamailio not found at %s; running without the edge", cfg.edge.kamailio_bin
            )
        return []
    files = render(cfg, workers)
    probe_host = "127.0.0.1" if cfg.sip_host in WILDCARDS else cfg.sip_host
    return [
        Child(
            name="edge",
            argv=command(cfg, files),
            address=address(cfg),
            ready=tcp_ready(probe_host, cfg.sip_port),
        )
    ]


def status_line(session: Session) -> str:
    """Registered contacts as last written back by the edge (every 30 s and at shutdown)."""
    try:
        count = session.scalar(sa.select(sa.func.count()).select_from(Location)) or 0
    except sa.exc.DatabaseError:  # a store older than 0002_edge
        return "edge    : no registrations table (run relais db upgrade)"
    return f"edge    : {count} registered contact(s) (as of the last write-back)"
