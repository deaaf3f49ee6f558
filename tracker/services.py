"""Shared pieces of the service layer.

Services change state and flush; the boundary (request, CLI command, scheduler
job) commits once. They raise ``ServiceError`` with a message for the user.
"""
from __future__ import annotations


class ServiceError(Exception):
    """A rule was broken; ``message`` is already translated for the user."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
