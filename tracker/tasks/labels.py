"""Display labels and badges for task values, translated once per process and language.

``card_labels()`` is the request language's ``cards.Labels``: every word a task card,
list row or badge shows, translated once per process and language (a page of thirty
cards would otherwise call gettext hundreds of times). The template globals below serve
the pages that show a few tasks (the task page, the plan page) from the same object, so
a badge looks the same everywhere.
"""
from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from tracker.tasks.cards import Labels, is_stale

_NOTHING = Markup("")


def _tables() -> dict[str, dict[str, str]]:
    return {
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


_BY_LOCALE: dict[str, Labels] = {}


def card_labels() -> Labels:
    """The labels in the request's current language (``force_locale`` may switch it).

    Kept for the life of the process: the catalogs do not change while it runs, and
    translating the thirty-odd words again on every page cost more than a query."""
    locale = str(get_locale())
    labels = _BY_LOCALE.get(locale)
    if labels is None:
        labels = _BY_LOCALE[locale] = Labels.build(_tables())
    return labels


def label(table: str, value: str) -> str:
    return getattr(card_labels(), table).get(value, value)


def status_badge(status) -> Markup:
    return card_labels().status_badges[status.value]


def acceptance_badge(task) -> Markup:
    return card_labels().acceptance_badges.get(task.acceptance.value, _NOTHING)


def stale_badge(task, now: datetime, stale_days: int) -> Markup:
    return card_labels().stale_badge if is_stale(task, now, stale_days) else _NOTHING


def owner(task) -> Markup:
    """Lead owner and department, "张三 · 教务处"; "Unassigned" when neither."""
    return card_labels().owner(task)


def register(app: Flask) -> None:
    for function in (label, status_badge, acceptance_badge, stale_badge, owner):
        app.add_template_global(function)
