"""unit tests (see README.md, Development)."""
