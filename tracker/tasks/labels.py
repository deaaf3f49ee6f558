"""Display labels for task values, translated once per request (not once per row).

A page of thirty task cards would otherwise call gettext hundreds of times; these
template globals translate each table once and then look values up.
"""
from __future__ import annotations

from flask import Flask, g
from flask_babel import gettext as _


def _tables() -> dict[str, dict[str, str]]:
    tables = g.get("_task_labels")
    if tables is None:
        tables = g._task_labels = {
            "status": {"not_started": _("Not started"), "in_progress": _("In progress"),
                       "done": _("Done"), "blocked": _("Blocked"), "cancelled": _("Cancelled")},
            "acceptance": {"pending": _("Awaiting acceptance"), "accepted": _("Accepted"),
                           "rejected": _("Sent back"), "not_required": ""},
            "recurrence": {"daily": _("Daily"), "weekly": _("Weekly"), "monthly": _("Monthly"),
                           "termly": _("Every term"), "yearly": _("Every year")},
            "ui": {"update": _("Update"), "save": _("Save"), "status": _("Status"),
                   "progress": _("Progress"), "note": _("Note"), "stale": _("Stale"),
                   "unassigned": _("Unassigned"),
                   "note_placeholder": _("What was done? (optional)"),
                   "evidence": _("Evidence (photos, PDF, Word, Excel)")},
        }
    return tables


def label(table: str, value: str) -> str:
    return _tables()[table].get(value, value)


def register(app: Flask) -> None:
    app.add_template_global(label, "label")
