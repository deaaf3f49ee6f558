"""Delivery channels. Each raises ``DeliveryError`` with a message safe to show and log
(no webhook keys, tokens, secrets or passwords in it)."""
from __future__ import annotations


class DeliveryError(Exception):
    """A send failed. ``permanent``: retrying will not help until the set-up is fixed."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
