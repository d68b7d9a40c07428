"""The switch: pjsua2 workers that execute routing plans and take voicemail (SPEC S1, S4)."""
