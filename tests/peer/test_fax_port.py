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

    from switch.endpoint import EndpointConfig, Pump
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


    def cycles(rng):
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
        return received


    sys.setswitchinterval(1.0)  # nobody takes the GIL from the spinning thread
    # The worker's own library set-up (null sound device, 8 kHz bridge), on its pump thread.
    pump = Pump(EndpointConfig(port=0, tcp=False))
    pump.start()
    try:
        received = pump.call(lambda: cycles(random.Random(7)), timeout=100)
    finally:
        pump.stop()
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
