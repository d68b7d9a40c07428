"""Store ids in URLs: a path parameter written `{message_id:id}` matches only an id the store
can hold, so any other value finds no route (404) and never reaches SQL."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[str]):
    """1 to 18 digits without a leading zero: below 2**63 (SQLite INTEGER, PostgreSQL BIGINT).
    The text is handed on as it is: each route's own type annotation parses it."""

    regex = "[1-9][0-9]{0,17}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
