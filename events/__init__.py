"""Typed events, the transactional outbox and the MQTT bus (SPEC S7)."""
