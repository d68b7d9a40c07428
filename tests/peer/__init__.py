"""peer tests (see README.md, Development)."""
