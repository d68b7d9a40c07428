"""browser tests (see README.md, Development)."""
