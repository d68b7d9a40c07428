"""Portal slice: settings."""
