"""Portal slice: auth."""
