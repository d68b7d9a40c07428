"""Subscriber web portal and JSON API (SPEC S8)."""
