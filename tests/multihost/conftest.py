"""Fixtures of the multi-host tests: `site`, one installation over six network namespaces
(tests/multihost/site.py), built once for the session and torn down at its end, also when a
test fails (its files stay in SITE_DIR until the next run, for the logs); skipped with the reason where namespaces cannot be made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.multihost.netns import NetnsUnavailable, check_available
from tests.multihost.site import SITE_DIR, Site, built_site


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "multihost" in str(item.path):
            item.add_marker(pytest.mark.multihost)


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    try:
        check_available()
    except NetnsUnavailable as exc:
        pytest.skip(f"multi-host tests need network namespaces: {exc}")
    with built_site(SITE_DIR) as s:
        yield s
