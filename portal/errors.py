"""Errors of the portal, converted once at the edge (CONVENTIONS 4).

Rules of this file:
- Services raise `Refused` (one stable error id, an HTTP status, a translatable detail) or
  `Invalid` (one or more field problems, HTTP 422). Neither is ever raised after a change was
  written: services validate everything first, then write in one transaction.
- The JSON API answers {"error": id, "detail": text} (plus "fields" for Invalid), the detail in
  the language of the request; pages show the same texts next to their fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from portal.i18n import Msg


@dataclass(frozen=True)
class Problem:
    """One invalid field: `field` is the API path of the value (e.g. ring_table.1.cells.6)."""

    field: str
    error: str
    message: Msg

    def as_json(self, lang: str) -> dict[str, str]:
        return {"field": self.field, "error": self.error, "detail": self.message.render(lang)}


class Refused(Exception):
    """A request the service will not perform (not a field problem)."""

    def __init__(
        self,
        status: int,
        error: str,
        message: Msg,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}

    def as_json(self, lang: str) -> dict[str, Any]:
        return {"error": self.error, "detail": self.message.render(lang)}


class Invalid(Exception):
    """Field problems: nothing was saved."""

    status = 422
    error = "invalid-input"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(", ".join(f"{p.field}: {p.error}" for p in self.problems))

    def by_field(self, lang: str) -> dict[str, str]:
        """The first message of each field, for pages."""
        out: dict[str, str] = {}
        for p in self.problems:
            out.setdefault(p.field, p.message.render(lang))
        return out

    def as_json(self, lang: str) -> dict[str, Any]:
        first = self.problems[0].message.render(lang) if self.problems else ""
        return {
            "error": self.error,
            "detail": first,
            "fields": [p.as_json(lang) for p in self.problems],
        }


class Problems:
    """Collects problems while a service validates a whole form; `check()` raises Invalid."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str, error: str, message: Msg) -> None:
        self.items.append(Problem(field, error, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def has(self, field: str) -> bool:
        return any(p.field == field for p in self.items)

    def check(self) -> None:
        if self.items:
            raise Invalid(self.items)
