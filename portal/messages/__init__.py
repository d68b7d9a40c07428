"""Portal slice: messages."""
