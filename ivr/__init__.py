"""Voicemail dialogs (SPEC S5): deposit and retrieval as pure machines, and their runner."""
