"""A worker's jitter buffers (switch.endpoint): fixed, never shrunk by dropping a frame, for
fax, recordings and prompts; pjmedia's adaptive one for the two sides of a bridged call
(relais' pjproject patch 0006: `Call.audJbDiscardAlgo`). That a fax call's buffer drops no
frame is tests/peer/test_fax.py."""

from __future__ import annotations

import pjsua2 as pj

from switch.b2bua import SwitchCall
from switch.endpoint import JB_DISCARD_NONE, JB_DISCARD_PROGRESSIVE, jitter_buffer


def test_a_worker_s_call_has_the_fixed_buffer_and_a_side_of_a_bridge_the_adaptive_one() -> None:
    # `make install` builds pjproject with patch 0006; the stock wheel (its fallback when no
    # source can be had) has no per-call setting, and this test says so.
    assert hasattr(pj.Call, "audJbDiscardAlgo"), "pjsua2 is not relais' build (make install)"
    account = pj.Account()
    assert pj.Call(account).audJbDiscardAlgo == -1  # pjsua's default: the media config's
    call = SwitchCall(account, lambda fn: None)
    assert call.audJbDiscardAlgo == JB_DISCARD_NONE
    jitter_buffer(call, adaptive=True)
    assert call.audJbDiscardAlgo == JB_DISCARD_PROGRESSIVE
