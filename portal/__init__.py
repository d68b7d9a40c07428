"""Subscriber web portal and JSON API (SPEC S8)."""

from portal import ids as _ids  # noqa: F401  (registers the {name:id} path convertor first)
