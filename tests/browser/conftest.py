"""Browser tier: a real `relais portal` (uvicorn) on a temp store, Debian's chromium driven by
Playwright (one browser for the session, a fresh context per test), screenshots of each page
at desktop and phone width under tests/browser/screens/ (git-ignored)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from store.session import Store

RELAIS = str(Path(sys.executable).with_name("relais"))
SCREENS = Path(__file__).with_name("screens")
DEMO_NUMBER = "6135550100"
DEMO_SECOND = "6135550101"
DEMO_PASSWORD = "relais-demo"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    root: Path
    store: Store

    def api(self) -> httpx.Client:
        """A JSON API client signed in to the demo account with a bearer token."""
        r = httpx.post(
            f"{self.url}/api/v1/session",
            json={"number": DEMO_NUMBER, "password": DEMO_PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {r.json()['token']}"},
            timeout=30,
        )


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("portal-browser")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(
        RELAIS_STORAGE_ROOT=str(root / "var"),
        RELAIS_PORTAL_PORT=str(port),
        RELAIS_LOG_LEVEL="WARNING",
        # Every test signs in from 127.0.0.1: the per-address limit would get in the way.
        RELAIS_PORTAL_SECURITY__LOGIN_RATE_PER_MINUTE="10000",
    )
    subprocess.run([RELAIS, "demo"], env=env, check=True, capture_output=True, timeout=60)
    log = (root / "portal.log").open("wb")
    proc = subprocess.Popen([RELAIS, "portal"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/login", timeout=2)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((root / "portal.log").read_text()) from None
            time.sleep(0.2)
    store = Store(f"sqlite:///{root / 'var' / 'relais.db'}")
    try:
        yield Server(url, root, store)
    finally:
        store.dispose()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="package")
def fake_microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the fake microphone says: a 4-second tone (chromium loops the file)."""
    path = tmp_path_factory.mktemp("mic") / "mic.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=523:duration=4:sample_rate=48000",
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright, fake_microphone: Path) -> Iterator[Browser]:
    b = playwright.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={fake_microphone}"],
    )
    yield b
    b.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=DESKTOP, locale="fr-CA", base_url=server.url)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def sign_in(page: Page, number: str = DEMO_NUMBER, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.fill("#number", number)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page signed in to the demo account (French, desktop width); no script error allowed."""
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(p)
    yield p
    assert errors == [], errors


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Screenshots at desktop and at phone width (the whole page, or the window for dialogs);
    the page must not be wider than a phone's screen."""
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}-desktop.png"), full_page=full_page)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(150)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width} px wide on a phone"
    page.screenshot(path=str(SCREENS / f"{name}-phone.png"), full_page=full_page)
    page.set_viewport_size(DESKTOP)


CALL_DEFAULTS = {
    "phone_state": "available",
    "incoming_mode": "ring_account",
    "forward_all_to": None,
    "ring_table": [],
    "no_answer_action": "voicemail",
    "no_answer_to": None,
    "no_answer_timeout": 24,
    "busy_action": "voicemail",
    "busy_to": None,
    "unavailable_forwarding": False,
    "unavailable_to": None,
    "selective_forwarding": False,
    "selective_forward_to": None,
    "forward_list": [],
    "selective_rejection": False,
    "reject_list": [],
    "anonymous_rejection": False,
    "forwarding_numbers": [],
}


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    """The JSON API, signed in to the demo account, with the call settings back to defaults."""
    client = server.api()
    r = client.put(f"/api/v1/lines/{DEMO_NUMBER}/call-settings", json=CALL_DEFAULTS)
    r.raise_for_status()
    yield client
    client.close()
