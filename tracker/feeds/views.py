"""The personal iCalendar feed: ``/feeds/calendar/<token>.ics``.

No login: the secret token in the URL identifies the user (phone calendars cannot
log in). The profile page creates it and replaces it to revoke the old URL; an
unknown or revoked token, or a deactivated user, answers 404.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select

from tracker import policy
from tracker.extensions import db
from tracker.feeds.ical import Deadline, build_calendar
from tracker.models import OPEN_STATUSES, Task, User, utcnow
from tracker.tasks import queries
from tracker.tasks.forms import STATUS_CHOICES
from tracker.tasks.paths import node_label, task_paths

bp = Blueprint("feeds", __name__)

TOKEN_MAX_CHARS = 64


def feed_tasks(user: User) -> list[Task]:
    """Open tasks with a due date that the user leads or supports, with the occurrences
    of their recurring measures (each occurrence has its own deadline)."""
    lead_stmt, support_stmt = queries.my_tasks(user)
    mine = (lead_stmt.with_only_columns(Task.id).order_by(None)
            .union(support_stmt.with_only_columns(Task.id).order_by(None))).subquery()
    stmt = (policy.visible_tasks(user)
            .where(or_(Task.id.in_(select(mine.c.id)), Task.parent_id.in_(select(mine.c.id))),
                   Task.status.in_(OPEN_STATUSES), Task.due_date.is_not(None))
            .options(*queries.LIST_LOAD).order_by(Task.due_date, Task.id))
    return list(db.session.execute(stmt).scalars())


def _description(task: Task, path: list, status_label: str) -> str:
    lines = []
    if path:
        lines.append(" › ".join(node_label(node) for node in path))
    owners = [task.lead_user.name if task.lead_user else "",
              task.lead_department.name if task.lead_department else ""]
    owners = [o for o in owners if o]
    if owners:
        lines.append(_("Lead: %(owners)s", owners=" / ".join(owners)))
    lines.append(_("Status: %(status)s, %(progress)d%%", status=status_label,
                   progress=task.progress))
    return "\n".join(lines)


@bp.get("/calendar/<token>.ics")
def calendar(token: str):
    if not token or len(token) > TOKEN_MAX_CHARS:
        abort(404)
    user = db.session.execute(select(User).where(User.calendar_token == token,
                                                 User.active.is_(True))).scalar_one_or_none()
    if user is None:
        abort(404)
    organization = user.organization
    with force_locale(user.locale or "zh_CN"):
        status_labels = {value: str(label) for value, label in STATUS_CHOICES}
        tasks = feed_tasks(user)
        paths = task_paths(tasks)
        deadlines = [
            Deadline(uid=f"task-{t.id}@plan-tracker.org-{t.organization_id}",
                     title=t.title, due=t.due_date,
                     url=url_for("tasks.detail", task_id=t.id, _external=True),
                     description=_description(t, paths[t.id], status_labels[t.status.value]),
                     sequence=t.version, last_modified=t.updated_at or t.created_at,
                     status_label=status_labels[t.status.value])
            for t in tasks]
        name = _("%(user)s · deadlines", user=user.name)
    body = build_calendar(name, organization.timezone, deadlines, utcnow())
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="tasks.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
