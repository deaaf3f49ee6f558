"""Reminders: planning, the outbox, channels and the notification pages."""
