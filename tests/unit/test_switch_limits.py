"""The switch learns its pjsua2 build's limits at start and sizes itself from them (issue:
switch at carrier scale). Pure: module stand-ins, no SIP stack is started."""

from __future__ import annotations

import resource
import types

import pytest

from switch.endpoint import STOCK_MAX_CALLS, LibraryLimits, library_limits, raise_fd_limit
from switch.worker import call_capacity

pytestmark = pytest.mark.unit


def test_relais_build_says_its_limits() -> None:
    module = types.SimpleNamespace(MAX_CALLS=512, IOQUEUE_MAX_HANDLES=4096)
    limits = library_limits(module)
    assert limits == LibraryLimits(max_calls=512, ioqueue_handles=4096, build="relais")
    assert limits.media_sockets == 4080
    assert limits.fds_needed >= 6 * 512  # sockets, player, recorders, the listener's read


def test_a_build_without_limits_is_the_stock_wheel() -> None:
    limits = library_limits(types.SimpleNamespace())
    assert limits == LibraryLimits(max_calls=STOCK_MAX_CALLS, ioqueue_handles=64, build="stock")
    assert (limits.max_calls, limits.media_sockets) == (4, 64)


@pytest.mark.parametrize("bad", [0, -1, "512", None])
def test_a_nonsense_limit_is_not_trusted(bad: object) -> None:
    assert library_limits(types.SimpleNamespace(MAX_CALLS=bad)).build == "stock"


@pytest.mark.parametrize(
    ("configured", "library_max", "expected"),
    [
        (128, 512, 128),  # the default: well inside the build
        (512, 512, 480),  # a sixteenth kept free so pjsua never answers 486 itself
        (1000, 512, 480),
        (4, 4, 3),  # the stock wheel: one slot kept free
        (1, 4, 1),
        (1, 1, 1),
    ],
)
def test_capacity_leaves_pjsua_a_reserve(configured: int, library_max: int, expected: int) -> None:
    assert call_capacity(configured, library_max) == expected


def test_the_installed_build_holds_hundreds_of_calls() -> None:
    """make install builds pjproject with 512 calls per process (scripts/build-pjproject.sh);
    the stock wheel would hold 4."""
    import pjsua2

    limits = library_limits(pjsua2)
    assert limits.build == "relais", "the stock pjsua2-python wheel is installed: make install"
    assert limits.max_calls >= 512


def test_fd_limit_is_raised_and_never_lowered() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert raise_fd_limit(1024) == (256, 1024)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 1024
        assert raise_fd_limit(512) == (1024, 1024)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 1024
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
