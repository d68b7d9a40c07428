"""integration tests (see README.md, Development)."""
