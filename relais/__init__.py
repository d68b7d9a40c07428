"""relais package."""
