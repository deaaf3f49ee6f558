"""Display labels and badges for task values, translated once per request.

A page of thirty task cards would otherwise call gettext hundreds of times; these
template globals translate each table once and then look values up. The badges are
Python rather than Jinja macros because every card and row shows three of them and a
macro call costs ten times a function call (measured with ``bench/profile_page.py``);
their text is escaped by ``Markup.format``.
"""
from __future__ import annotations

from datetime import datetime

from flask import Flask, g
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup


def _tables() -> dict[str, dict[str, str]]:
    by_locale = g.setdefault("_task_labels", {})
    locale = get_locale()  # force_locale may switch languages within a request
    tables = by_locale.get(locale)
    if tables is None:
        tables = by_locale[locale] = {
            "status": {"not_started": _("Not started"), "in_progress": _("In progress"),
                       "done": _("Done"), "blocked": _("Blocked"), "cancelled": _("Cancelled")},
            "acceptance": {"pending": _("Awaiting acceptance"), "accepted": _("Accepted"),
                           "rejected": _("Sent back"), "not_required": ""},
            "recurrence": {"daily": _("Daily"), "weekly": _("Weekly"), "monthly": _("Monthly"),
                           "termly": _("Every term"), "yearly": _("Every year")},
            "ui": {"update": _("Update"), "save": _("Save"), "status": _("Status"),
                   "progress": _("Progress"), "note": _("Note"), "stale": _("Stale"),
                   "unassigned": _("Unassigned"), "due": _("Due"),
                   "note_placeholder": _("What was done? (optional)"),
                   "evidence": _("Evidence (photos, PDF, Word, Excel)")},
        }
    return tables


def label(table: str, value: str) -> str:
    return _tables()[table].get(value, value)


STATUS_COLOURS = {"not_started": "secondary", "in_progress": "primary", "done": "success",
                  "blocked": "warning", "cancelled": "dark"}
ACCEPTANCE_COLOURS = {"pending": "info", "accepted": "success", "rejected": "danger"}


_BADGE = Markup('<span class="badge text-bg-%s">%s</span>')  # ``%`` escapes its arguments
_NOTHING = Markup("")


def status_badge(status) -> Markup:
    return _BADGE % (STATUS_COLOURS[status.value], label("status", status.value))


def acceptance_badge(task) -> Markup:
    colour = ACCEPTANCE_COLOURS.get(task.acceptance.value)
    if colour is None:
        return _NOTHING
    return _BADGE % (colour, label("acceptance", task.acceptance.value))


def stale_badge(task, now: datetime, stale_days: int) -> Markup:
    if task.is_open and (now - task.last_activity_at).days >= stale_days:
        return _BADGE % ("light border", label("ui", "stale"))
    return _NOTHING


def owner(task) -> Markup:
    """Lead owner and department, "张三 · 教务处"; "Unassigned" when neither."""
    names = [n for n in (task.lead_user_name, task.lead_department_name) if n]
    if not names:
        return Markup('<span class="text-secondary">%s</span>') % label("ui", "unassigned")
    return Markup(" · ").join(names)


def register(app: Flask) -> None:
    for function in (label, status_badge, acceptance_badge, stale_badge, owner):
        app.add_template_global(function)
