"""What a notification says, in the recipient's language: e-mail, robot markdown, in-app line.

Rendered at send time from the payload stored with the notification, inside
``force_locale`` (the recipient's locale, Chinese by default).
"""
from __future__ import annotations

from datetime import date

from flask import current_app, render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from tracker.models import GroupChannel, Notification, User

DEFAULT_LOCALE = "zh_CN"


def base_url() -> str:
    return (current_app.config.get("PUBLIC_BASE_URL") or "http://localhost:5000").rstrip("/")


def task_url(task_id: int) -> str:
    return f"{base_url()}/tasks/{int(task_id)}"


def _day(value: str) -> str:
    return format_date(date.fromisoformat(value), "medium")


def headline(n: Notification) -> str:
    """One line for a subject, an in-app entry or a robot title (current locale)."""
    p = n.payload or {}
    if n.kind == "before_due":
        return _("Due in %(days)d days (%(due)s): %(title)s", days=p["days"],
                 due=_day(p["due"]), title=p["title"])
    if n.kind == "on_due":
        return _("Due today: %(title)s", title=p["title"])
    if n.kind == "overdue":
        return _("Overdue by %(days)d days: %(title)s", days=-p["days"], title=p["title"])
    if n.kind == "escalation":
        return _("Escalation: %(title)s (%(owner)s) is %(days)d days overdue",
                 title=p["title"], owner=p.get("owner") or _("no owner"),
                 days=p.get("overdue_days", -p["days"]))
    if n.kind in ("digest", "group_digest"):
        return _("Open tasks due soon: %(total)d, overdue: %(overdue)d",
                 total=p["total"], overdue=p["overdue_count"])
    if n.kind in ("weekly", "group_weekly"):
        return _("Weekly summary: %(rate)d%% complete, %(overdue)d overdue",
                 rate=p["rate"], overdue=p["overdue_count"])
    return _("Notification")


def _context(n: Notification) -> dict:
    p = n.payload or {}

    def item(entry: dict) -> dict:
        return {**entry, "url": task_url(entry["task_id"]), "due_text": _day(entry["due"])}

    return {
        "n": n, "p": p, "headline": headline(n),
        "task_link": task_url(p["task_id"]) if "task_id" in p else None,
        "due_text": _day(p["due"]) if "due" in p else "",
        "items": [item(e) for e in p.get("items", [])],
        "slipped": [item(e) for e in p.get("slipped", [])],
        "overdue": [item(e) for e in p.get("overdue", [])],
        "mine_link": f"{base_url()}/tasks/mine",
        "prefs_link": f"{base_url()}/notifications/preferences",
    }


def email(n: Notification, user: User) -> tuple[str, str, str]:
    """(subject, plain text, HTML) in the recipient's language."""
    with force_locale(user.locale or DEFAULT_LOCALE):
        context = _context(n) | {"user": user}
        subject = _("[Plan Tracker] %(headline)s", headline=context["headline"])
        text = render_template("reminders/email/message.txt", **context)
        html = render_template("reminders/email/message.html", **context)
    return subject, text, html


def robot(n: Notification, channel: GroupChannel) -> tuple[str, str]:
    """(title, markdown) for a group robot, in the organisation's default language."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or DEFAULT_LOCALE):
        context = _context(n) | {"channel": channel}
        return context["headline"], render_template("reminders/robot.md", **context).strip()


def robot_test(channel: GroupChannel, actor: User) -> tuple[str, str]:
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or DEFAULT_LOCALE):
        title = _("Plan Tracker test message")
        text = _("This is a test message from Plan Tracker for the robot “%(name)s”, "
                 "sent by %(user)s. Reminders and digests will arrive here.",
                 name=channel.name, user=actor.name)
        return title, f"### {title}\n\n{text}\n\n[{base_url()}]({base_url()})"
