"""The JSON API under /api/v1.

Every error answers ``{"error": {"code": int, "message": str}}``. Route modules
import ``bp`` from ``tracker.api.base``; importing them here registers their routes.
"""
from tracker.api.base import bp

__all__ = ["bp"]

# Route modules (each does `from tracker.api.base import bp` and adds its routes):
# list the module in the import below.
from tracker.api import (
    openapi,  # noqa: E402,F401
    plans,  # noqa: E402,F401
    stats,  # noqa: E402,F401
    tasks,  # noqa: E402,F401
)
