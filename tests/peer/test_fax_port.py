"""switch.fax.FaxPort: a fax port ends while pjmedia's clock thread is inside its callback.

The clock thread calls the port's Python callbacks every 20 ms, also after the call ended
(pjmedia hands a port with no source an empty frame). A port freed by its last reference going
away was cleared by Python before pjsua2 took it out of the bridge, and a callback running in
between freed it a second time: the process died (a worker, right after a fax call ended). The
ports here are ended while the clock thread waits for the GIL at the start of a callback, 150
times, in a process of their own so that a crash fails the test instead of the tier."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import random
    import sys
    import threading
    import time

    import numpy as np
    import pjsua2 as pj

    from switch.fax import FaxPort


    class Terminal:
        outcome = None

        def __init__(self):
            self.entered = threading.Event()

        def receive(self, samples):
            self.entered.set()

        def transmit(self, n):
            return np.zeros(n, dtype=np.int16)

        def hang_up(self):
            return None

        def close(self):
            pass


    def spin(seconds):
        # Hold the GIL past a tick of the bridge: the clock thread then waits for it inside
        # the port's callback, pjmedia's lock of the port held, as it does under load.
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass


    sys.setswitchinterval(1.0)  # nobody takes the GIL from the spinning thread
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = False
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
    cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = 8000
    ep.libInit(cfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    rng = random.Random(7)
    received = 0
    for _ in range(150):
        a = FaxPort(Terminal(), "a", lambda _o: None)
        b = FaxPort(Terminal(), "b", lambda _o: None)
        a.startTransmit(b)
        b.startTransmit(a)
        assert a.terminal.entered.wait(5), "the bridge never called the port"
        time.sleep(rng.uniform(0, 0.02))
        spin(0.025)
        for port in (a, b):
            port.finish()
            port.destroy()
            received += port.frames_in
        del a, b, port
    ep.libDestroy()
    print("ok", received)
    """
)


def test_ports_end_while_the_clock_thread_calls_them(tmp_path: Path) -> None:
    script = tmp_path / "ports.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    ok = [line.split() for line in done.stdout.splitlines() if line.startswith("ok ")]
    assert ok and int(ok[0][1]) >= 150, done.stdout  # every port a took frames
