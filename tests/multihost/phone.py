"""The scripted pjsua2 phone of tests/support/phone.py on the phone host: its endpoint's
thread runs inside the host's namespace (so every SIP and RTP socket it opens does), and its
calls go to the edge as a device that answers the edge's digest challenge."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pjsua2 as pj

from switch.endpoint import EndpointConfig, Pump
from tests.multihost.netns import enter_netns
from tests.support.phone import Ear, Phone, Phones

PHONE_PORT = 5060


class NetnsPump(Pump):
    """A Pump whose thread enters a network namespace before the library starts."""

    def __init__(self, config: EndpointConfig, ns: str) -> None:
        super().__init__(config)
        self.ns = ns

    def _main(self, setup: Any) -> None:
        enter_netns(self.ns)
        super()._main(setup)


class HostPhones(Phones):
    """The process's pjsua2 endpoint, on `address` inside namespace `ns`."""

    def __init__(self, workdir: Path, ns: str, address: str, prompts: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.address = address
        self.pump = NetnsPump(
            EndpointConfig(
                host=address,
                port=PHONE_PORT,
                advertised_host=address,
                tcp=False,
                max_calls=4,
                user_agent="relais-test-phone",
            ),
            ns,
        )
        self._objects: list[Any] = []
        self._lock = threading.Lock()
        self.pump.on_destroy = self._drop
        self.pump.start()
        self.ear = Ear(prompts)
        self._calls = 0
        self._street: Phone | None = None
        self._made: list[Phone] = []

    def device(self, username: str, password: str, domain: str) -> DevicePhone:
        return DevicePhone(self, username, password, domain)


class DevicePhone(Phone):
    """A line's device: From sip:<username>@<domain>, digest credentials for the edge."""

    def __init__(self, phones: HostPhones, username: str, password: str, domain: str) -> None:
        self.phones = phones
        self.number = username
        self.domain = domain
        self.notifies: list[str] = []
        self.answering = False
        self.incoming = []
        self._cond = threading.Condition()
        self.port = PHONE_PORT + 2

        def setup() -> None:
            tc = pj.TransportConfig()
            tc.port = self.port
            tc.boundAddress = phones.address
            tid = phones.pump.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
            cfg = pj.AccountConfig()
            cfg.idUri = self.local_uri
            cfg.sipConfig.transportId = tid
            cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", username, 0, password))
            cfg.mediaConfig.transportConfig.boundAddress = phones.address
            from tests.support.phone import _Account

            acc = _Account(self)
            acc.create(cfg, False)
            phones.keep(acc)
            self.account = acc

        phones.keep(self)
        phones.pump.call(setup)

    @property
    def local_uri(self) -> str:
        return f"sip:{self.number}@{self.domain}"
