"""Notifications (SPEC S7): schedules, rules, e-mail, pager, outdial and the notifier service."""
