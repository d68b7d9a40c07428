"""Portal slice: home."""
