"""media package: prompts, the say layer, audio conversion and analysis (SPEC S1, S5)."""

from __future__ import annotations
