"""Portal slice: notifications."""
