"""What one task card (my tasks) or list row (the task list) shows, worked out in Python.

Pure: no Flask. The view passes in the request's translated labels, the date formatter
and the policy's update check, and the templates only print attributes. A page of thirty
cards used to call a dozen functions per card from Jinja (badges, labels, dates, the
policy check); each such call goes through Jinja's ``Context.call`` and cost more than the
page's SQL (``bench/profile_page.py``). Here each card costs a few dictionary lookups.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from markupsafe import Markup, escape

STATUS_COLOURS = {"not_started": "secondary", "in_progress": "primary", "done": "success",
                  "blocked": "warning", "cancelled": "dark"}
ACCEPTANCE_COLOURS = {"pending": "info", "accepted": "success", "rejected": "danger"}

_BADGE = Markup('<span class="badge text-bg-%s">%s</span>')  # ``%`` escapes its arguments
_MUTED = Markup('<span class="text-secondary">%s</span>')


def badge(colour: str, text: str) -> Markup:
    return _BADGE % (colour, text)


@dataclass(frozen=True, slots=True)
class Labels:
    """One language's words for cards, badges ready-made (built once per process and
    language by ``tasks.labels.card_labels``)."""

    status: Mapping[str, str]
    acceptance: Mapping[str, str]
    recurrence: Mapping[str, str]
    ui: Mapping[str, str]
    status_badges: Mapping[str, Markup]
    acceptance_badges: Mapping[str, Markup]
    stale_badge: Markup
    unassigned: Markup
    # (status, acceptance, stale) → the three badges as one fragment, filled as met
    _combined: dict = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, tables: Mapping[str, Mapping[str, str]]) -> Labels:
        status, acceptance = tables["status"], tables["acceptance"]
        return cls(
            status=status, acceptance=acceptance, recurrence=tables["recurrence"],
            ui=tables["ui"],
            status_badges={k: badge(c, status[k]) for k, c in STATUS_COLOURS.items()},
            acceptance_badges={k: badge(c, acceptance[k]) for k, c in ACCEPTANCE_COLOURS.items()},
            stale_badge=badge("light border", tables["ui"]["stale"]),
            unassigned=_MUTED % tables["ui"]["unassigned"])

    def badges(self, task, stale: bool) -> Markup:
        """Status, acceptance and stale badges, as the cards and rows show them together
        (at most 5 × 4 × 2 different fragments: each is joined once)."""
        key = (task.status.value, task.acceptance.value, stale)
        fragment = self._combined.get(key)
        if fragment is None:
            parts = [self.status_badges[key[0]]]
            accepted = self.acceptance_badges.get(key[1])
            if accepted is not None:
                parts.append(accepted)
            if stale:
                parts.append(self.stale_badge)
            fragment = self._combined[key] = Markup(" ").join(parts)
        return fragment

    def owner(self, task) -> Markup:
        """Lead owner and department, "张三 · 教务处"; "Unassigned" when neither."""
        user, department = task.lead_user_name, task.lead_department_name
        if user and department:
            return Markup(f"{escape(user)} · {escape(department)}")
        if user or department:
            return escape(user or department)
        return self.unassigned


@dataclass(slots=True)
class CardView:
    """One card or row: the task's own values plus everything derived for display.

    ``target`` is what "Update" opens: the task itself, or for a recurring measure its
    earliest open occurrence (None: nothing to update, e.g. all occurrences done), whose
    page is ``target_url``."""

    task: object
    url: str
    path: str
    badges: Markup
    owner: Markup
    due: str
    overdue: bool
    recurrence: str
    target: object | None
    may_update: bool
    target_url: str
    target_suffix: str

    @property
    def css(self) -> str:
        return ("task-card" + (" overdue" if self.overdue else "")
                + ("" if self.task.is_open else " done"))


def is_stale(task, now: datetime, stale_days: int) -> bool:
    return task.is_open and (now - task.last_activity_at).days >= stale_days


def present(tasks: Iterable, *, labels: Labels, today: date, now: datetime, stale_days: int,
            paths: Mapping[int, str], format_date: Callable[[date], str], task_url: str,
            may_update: Callable[[object], bool],
            next_occurrences: Mapping[int, object] | None = None,
            occurrence_counts: Mapping[int, tuple[int, int]] | None = None) -> list[CardView]:
    """Card views of ``tasks`` in the same order.

    With ``next_occurrences`` (my tasks) a recurring measure's due date, overdue mark and
    "Update" follow its earliest open occurrence; without them (the task list) every row
    shows the task itself. ``task_url`` is the task page's address without the id."""
    next_occurrences = next_occurrences or {}
    occurrence_counts = occurrence_counts or {}
    views = []
    for task in tasks:
        target = next_occurrences.get(task.id, task)
        recurrence = ""
        if task.recurrence is not None:
            recurrence = labels.recurrence.get(task.recurrence.value, task.recurrence.value)
            counts = occurrence_counts.get(task.id)
            if counts:
                recurrence = f"{recurrence} {counts[0]}/{counts[1]}"
        opens = task.is_open and (task.recurrence is None or target is not task)
        views.append(CardView(
            task=task,
            url=f"{task_url}{task.id}",
            path=paths.get(task.plan_node_id, "") if task.plan_node_id else "",
            badges=labels.badges(task, is_stale(task, now, stale_days)),
            owner=labels.owner(task),
            due=format_date(target.due_date) if target.due_date else "",
            overdue=target.is_overdue(today),
            recurrence=recurrence,
            target=target if opens else None,
            may_update=opens and may_update(target),
            target_url=f"{task_url}{target.id}" if opens else "",
            # "Update · 第3周": the occurrence's title is the measure's plus its period
            target_suffix=target.title[len(task.title):] if target is not task else ""))
    return views
