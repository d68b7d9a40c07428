"""Contacts and groups: pages, API, CSV and vCard files (SPEC S8, S10)."""
