"""Helpers for asserting exact error messages."""

from __future__ import annotations

import re


def exact(text: str) -> str:
    """A `pytest.raises(match=...)` pattern that matches `text` and nothing else."""
    return f"^{re.escape(text)}$"


def starts(text: str) -> str:
    return f"^{re.escape(text)}"
