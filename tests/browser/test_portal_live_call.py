"""A voicemail left by a real SIP call (SIPp) to a running switch worker appears on the open
Messages page without a reload, and plays: the portal and the worker share one store."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DESKTOP, RELAIS, shoot, sign_in
from tests.support.ports import free_port
from tests.support.sip import SwitchUnderTest, run_worker, write_tone_pcap


@pytest.fixture
def switch_and_portal(tmp_path: Path) -> Iterator[tuple[SwitchUnderTest, str]]:
    with run_worker(tmp_path / "switch") as sut:
        port = free_port()
        env = {k: v for k, v in sut.env.items() if k != "RELAIS_SIP_PORT"}
        env.update(
            RELAIS_PORTAL_PORT=str(port),
            RELAIS_LOG_LEVEL="WARNING",
            RELAIS_PORTAL_SECURITY__LOGIN_RATE_PER_MINUTE="10000",
            RELAIS_PORTAL_EVENTS__BUS="false",
            RELAIS_PORTAL_EVENTS__POLL_SECONDS="0.3",
        )
        log = (tmp_path / "portal.log").open("wb")
        proc = subprocess.Popen(
            [RELAIS, "portal"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{url}/login", timeout=2)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, (
                        tmp_path / "portal.log"
                    ).read_text()
                    time.sleep(0.2)
            yield sut, url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


def test_a_message_left_by_a_sipp_call_appears_without_a_reload(
    browser: Browser, switch_and_portal: tuple[SwitchUnderTest, str], tmp_path: Path
) -> None:
    sut, url = switch_and_portal
    number = sut.account()
    context = browser.new_context(viewport=DESKTOP, locale="fr-CA", base_url=url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, "motdepasse1", number)
        page.goto("/messages")
        expect(page.get_by_test_id("empty")).to_be_visible()
        page.evaluate("window.__stayed = true")
        # The line has no phone: unavailable -> voicemail (SPEC S3 step 6); the caller speaks 2 s.
        caller = sut.sipp(
            "caller",
            "uac_answer.xml",
            workdir=tmp_path,
            service=number,
            wait_ms=800,
            hold_ms=2300,
            pcap=write_tone_pcap(tmp_path / "msg.pcap", 2.0, 440.0),
        )
        assert caller.run() == 0, caller.describe()
        row = page.locator("li.msg")
        expect(row).to_have_count(1, timeout=15_000)
        expect(row.locator(".msg__caller")).to_have_text("(613) 555-9999")
        expect(row.locator(".cnam")).to_have_text("Test Caller")
        expect(page.locator('[data-count="voice-new"]')).to_have_text("1")
        expect(page.get_by_test_id("list-summary")).to_have_text("1 nouveau message · 0 écouté")
        assert page.evaluate("window.__stayed") is True  # it came in; the page did not reload
        (message,) = sut.messages(number)
        assert abs(message.duration_seconds - 2.0) < 0.5
        row.get_by_role("link", name="Lire le message de (613) 555-9999").click()
        page.wait_for_function(
            "() => { const a = document.querySelector('li.msg audio'); "
            "return !!a && a.currentTime > 0.3; }"
        )
        expect(page.locator('[data-count="voice-new"]')).to_have_count(0)
        shoot(page, "messages-live-call", full_page=False)
        assert errors == []
    finally:
        context.close()


def test_the_switch_uses_the_settings_saved_in_the_page_on_the_next_call(
    browser: Browser, switch_and_portal: tuple[SwitchUnderTest, str], tmp_path: Path
) -> None:
    """Issue "portal part 1", done when: the switch uses the saved settings on the next call.
    In English this time: selective rejection of the caller, saved with Apply, then a real call
    from that caller is declined (603) by the worker and logged as missed (rejected)."""
    sut, url = switch_and_portal
    number = sut.account()
    context = browser.new_context(viewport=DESKTOP, locale="en-CA", base_url=url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, "motdepasse1", number)
        page.goto("/")
        page.locator("#advanced > summary").click()
        page.get_by_label("Selective rejection").check()
        page.locator("#reject-list > summary").click()
        page.locator("#reject_list_add").fill("613 555 9999")
        page.locator("#reject_list_add").press("Enter")
        expect(page.locator("#reject-list .chip")).to_have_count(1)
        page.get_by_test_id("apply").click()
        expect(page.get_by_test_id("flash")).to_have_text("Your changes are saved.")
        caller = sut.sipp("caller", "uac_final.xml", workdir=tmp_path, service=number, code=603)
        assert caller.run() == 0, caller.describe()
        log = sut.wait_for(lambda: sut.call_log(number))
        assert [(r.direction, r.disposition) for r in log] == [("missed", "rejected")]
    finally:
        context.close()
