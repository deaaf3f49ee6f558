"""The JSON API under /api/v1.

Every error answers ``{"error": {"code": int, "message": str}}``. Route modules
import ``bp`` from ``tracker.api.base``; importing them here registers their routes.
"""
from tracker.api.base import bp

__all__ = ["bp"]

# Route modules (each does `from tracker.api.base import bp` and adds its routes):
# add `from tracker.api import <module>  # noqa: E402,F401` lines below.
from tracker.api import tasks  # noqa: E402,F401
from tracker.api import plans  # noqa: E402,F401
from tracker.api import openapi  # noqa: E402,F401
from tracker.api import stats  # noqa: E402,F401
