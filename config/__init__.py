"""Settings of relais: one tree, loaded once per entry point."""
