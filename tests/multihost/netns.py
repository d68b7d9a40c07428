"""Hosts as Linux network namespaces on one private bridge, for the multi-host tests.

Every name this module makes starts with PREFIX and every address is in SUBNET, which only
this module assigns: the bridge (in the root namespace, so the test process reaches every
host) holds .1, each host one address of its own. `Network.build()` first removes what a
crashed earlier run left behind (namespaces and links with the prefix), `Network.destroy()`
stops every process still inside a namespace (by pid, from `ip netns pids`) and removes them.

A socket belongs to the namespace of the thread that creates it: `in_netns(name, fn)` runs
`fn` on a fresh thread moved into a namespace (setns), so a test can own a SIP socket or a
pjsua2 endpoint on a host's address.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

PREFIX = "rlmh"
SUBNET = "10.213.0"
BRIDGE = f"{PREFIX}-br0"
GATEWAY = f"{SUBNET}.1"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (no root, no `ip`, a restricted container)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def _kill_namespace_processes(ns: str) -> None:
    """SIGTERM, then SIGKILL, every process inside namespace `ns` (all started by a run of
    this harness: nothing else is put in its namespaces)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p) for p in _ip("netns", "pids", ns, check=False).stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not _ip("netns", "pids", ns, check=False).stdout.split():
                return
            time.sleep(0.05)


def leftovers() -> list[str]:
    """Namespaces with the prefix (from this run or a crashed earlier one)."""
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"{PREFIX}-")]


def clean() -> None:
    """Remove every namespace and link with the prefix, stopping their processes first."""
    for ns in leftovers():
        _kill_namespace_processes(ns)
        _ip("netns", "del", ns, check=False)
    links = _ip("-o", "link", "show", check=False).stdout
    for line in links.splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(f"{PREFIX}-"):
            _ip("link", "del", name, check=False)


def check_available() -> None:
    """Raise NetnsUnavailable with the reason when namespaces cannot be made here."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)")
    probe = f"{PREFIX}-probe"
    try:
        made = _ip("netns", "add", probe, check=False)
    except FileNotFoundError:
        raise NetnsUnavailable("the `ip` command (iproute2) is not installed") from None
    if made.returncode != 0:
        raise NetnsUnavailable(f"cannot make a network namespace: {made.stderr.strip()}")
    _ip("netns", "del", probe, check=False)


_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(ns: str) -> None:
    """Move the calling thread into namespace `ns` (sockets it creates then live there)."""
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({ns}): {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """fn() on a new thread inside namespace `ns`; its result (e.g. a bound socket)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            enter_netns(ns)
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    t = threading.Thread(target=run, name=f"netns-{ns}")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@dataclass
class Host:
    """One host: a namespace with one address on the bridge."""

    name: str
    address: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def ns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def link(self) -> str:
        """The bridge side of the host's veth pair (down = the host is cut off)."""
        return f"{PREFIX}-{self.name}"

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def run(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(argv),
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """A long-running process on this host, in its own session (its group is killed)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        out: IO[bytes]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                self.argv(argv),
                env=dict(env) if env is not None else None,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )
        self.processes.append(proc)
        return proc

    def wait_linked(self, timeout: float = 10.0) -> None:
        """Until both ends of the host's link carry traffic (a new veth takes a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            outer = _ip("-o", "link", "show", self.link, check=False).stdout
            inner = _ip("-n", self.ns, "-o", "link", "show", "eth0", check=False).stdout
            if "LOWER_UP" in outer and "LOWER_UP" in inner and "state UP" in inner:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: link not up after {timeout} s")
            time.sleep(0.02)

    def cut(self) -> None:
        _ip("link", "set", self.link, "down")

    def reconnect(self) -> None:
        _ip("link", "set", self.link, "up")
        self.wait_linked()

    def stop_all(self) -> None:
        for proc in self.processes:
            stop(proc)
        self.processes.clear()


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Network:
    hosts: dict[str, Host] = field(default_factory=dict)

    def build(self, addresses: Mapping[str, int]) -> Network:
        """The bridge and one namespace per host (name -> last octet), after removing what
        an earlier run left behind."""
        clean()
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for name, octet in addresses.items():
            if not 2 <= octet <= 254:
                raise ValueError(f"host {name}: {octet} is not a host number of {SUBNET}.0/24")
            host = Host(name, f"{SUBNET}.{octet}")
            if len(host.link) > 15:
                raise ValueError(f"host name {name!r} is too long for a link name")
            _ip("netns", "add", host.ns)
            inner = f"{PREFIX}-in"
            _ip("link", "add", host.link, "type", "veth", "peer", "name", inner, "netns", host.ns)
            _ip("-n", host.ns, "link", "set", "lo", "up")
            _ip("-n", host.ns, "link", "set", inner, "name", "eth0")
            _ip("-n", host.ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", host.ns, "link", "set", "eth0", "up")
            _ip("link", "set", host.link, "master", BRIDGE, "up")
            self.hosts[name] = host
        for host in self.hosts.values():
            host.wait_linked()
        return self

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def destroy(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.stop_all()
        self.hosts.clear()
        clean()
