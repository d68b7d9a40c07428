"""What `relais run` passes on of its children's output (relais.run.shown): one ready line per
service, no library start-up chatter, no Kamailio ALERT on a normal stop; DEBUG shows all."""

from __future__ import annotations

import pytest

from relais.run import shown

HIDDEN = [
    # pjlib's console while pjsua2 starts
    "03:48:53.648         os_core_unix.c !pjlib 2.15.1 for POSIX initialized",
    "03:48:53.648         sip_endpoint.c  .Creating endpoint instance...",
    "03:48:53.648           pjsua_core.c  .PJSUA state changed: NULL --> CREATED",
    # Kamailio's socket summary
    "Listening on ",
    "             udp: 127.0.0.1 [127.0.0.1]:15060",
    "             tcp: 10.213.0.1 [10.213.0.1]:15060",
    "Aliases: ",
    "             *: relais.local:*",
    "",
    # the services' own ready lines (the supervisor prints one per service)
    "ready: switch worker 0 sip:127.0.0.1:15070",
    "bus ready: mqtt://127.0.0.1:11883 (relay publishing the outbox)",
    "notifier ready: bus mqtt://127.0.0.1:11883, mail spool /tmp/var/spool",
    "portal http://127.0.0.1:18080",
    # Kamailio's normal stop
    " 0(22936) ALERT: <core> [main.c:770]: handle_sigs(): child process 22944 exited normally,"
    " status=0",
    " 0(11713) NOTICE: <core> [main.c:733]: handle_sigs(): Thank you for flying kamailio!!!",
]

SHOWN = [
    " 0(22936) ALERT: <core> [main.c:770]: handle_sigs(): child process 22944 exited by a"
    " signal 11",
    " 0(22936) ALERT: <core> [main.c:770]: handle_sigs(): child process 22944 exited normally,"
    " status=1",
    "2026-12-05 03:49:32,327 WARNING notify.notifier: the mail server refused the message",
    "2026-12-05 03:49:32,327 ERROR events.bus: the broker is gone",
    "Traceback (most recent call last):",
]


@pytest.mark.parametrize("line", HIDDEN)
def test_chatter_is_hidden_unless_debug(line: str) -> None:
    assert not shown(line, ready=True, debug=False)
    assert not shown(line, ready=False, debug=False)
    assert shown(line, ready=True, debug=True)


@pytest.mark.parametrize("line", SHOWN)
def test_warnings_errors_and_abnormal_exits_always_show(line: str) -> None:
    assert shown(line, ready=False, debug=False) and shown(line, ready=True, debug=False)


def test_info_lines_show_once_the_service_is_ready() -> None:
    info = "2026-12-05 03:48:51,004 INFO events.broker: embedded MQTT broker listening on mqtt://x"
    assert not shown(info, ready=False, debug=False)
    call = "2026-12-05 03:50:01,004 INFO switch[0] switch.b2bua: abc@h: plan voicemail"
    assert shown(call, ready=True, debug=False)
    started = "2026-12-05 03:51:02,310 INFO switch[0] __main__: switch worker 0 listening on h:1"
    assert not shown(started, ready=True, debug=False) and shown(started, ready=True, debug=True)
