"""Tasks over the API: list and filter, read one with its history, update, my tasks.

Visibility is ``policy.visible_tasks`` (through ``queries``), the same select the
pages use; updates go through ``services.update_progress``, so the rules and the
history are those of the task page.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask import jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker import policy
from tracker.api.base import MAX_ID, api_error, api_user, bp
from tracker.api.serializers import task_detail, task_summary
from tracker.extensions import db
from tracker.i18n import local_today
from tracker.models import Task, TaskEvent, TaskStatus, User, utcnow
from tracker.services import ServiceError
from tracker.tasks import queries, services
from tracker.tasks.paths import task_paths

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 200
Q_MAX_CHARS = 100
# What a PATCH may carry. Everything else (owner, dates, organisation…) is refused.
UPDATABLE_FIELDS = ("status", "progress", "note", "actual_value")
ACTUAL_VALUE_LIMIT = Decimal("1e12")  # Numeric(14, 2)


class InvalidInput(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


def _invalid(error: InvalidInput):
    return api_error(400, error.message, field=error.field)


# -- query parameters ------------------------------------------------------------------

def _positive_int(args, name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise InvalidInput(_("%(name)s must be a whole number from 1 to %(max)d.",
                             name=name, max=MAX_ID), name)
    return int(raw)


def _flag(args, name: str) -> bool:
    raw = (args.get(name) or "").lower()
    if raw in ("", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise InvalidInput(_("%(name)s must be true or false.", name=name), name)


def _date(args, name: str) -> date | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(_("%(name)s must be a date like 2025-03-31.", name=name),
                           name) from None


def list_filters(args) -> dict:
    """The task-list filters from query parameters, the same keys the task page uses."""
    status = args.get("status") or ""
    if status and status not in TaskStatus.__members__:
        raise InvalidInput(_("Unknown status %(value)s.", value=status), "status")
    sort = args.get("sort") or "due"
    if sort not in queries.SORTS:
        raise InvalidInput(_("sort must be one of: %(names)s.",
                             names=", ".join(queries.SORTS)), "sort")
    q = (args.get("q") or "").strip()
    if len(q) > Q_MAX_CHARS:
        raise InvalidInput(_("q is too long (at most %(n)d characters).", n=Q_MAX_CHARS), "q")
    filters = {
        "plan": _positive_int(args, "plan"), "section": _positive_int(args, "section"),
        "department": _positive_int(args, "department"), "owner": _positive_int(args, "owner"),
        "status": status, "overdue": _flag(args, "overdue"), "stale": _flag(args, "stale"),
        "due_from": _date(args, "due_from"), "due_to": _date(args, "due_to"),
        "q": q, "sort": sort,
    }
    return filters


def paging(args) -> tuple[int, int]:
    page = _positive_int(args, "page") or 1
    per_page = min(_positive_int(args, "per_page") or PER_PAGE_DEFAULT, PER_PAGE_MAX)
    return page, per_page


def _summaries(tasks: list[Task], today: date) -> list[dict]:
    paths = task_paths(tasks)
    return [task_summary(t, paths[t.id], today) for t in tasks]


# -- routes ----------------------------------------------------------------------------

@bp.get("/tasks")
def list_tasks():
    user = api_user()
    try:
        filters = list_filters(request.args)
        page, per_page = paging(request.args)
    except InvalidInput as error:
        return _invalid(error)
    organization = user.organization
    today = local_today(organization.timezone)
    stmt = queries.task_list(user, filters=filters, today=today, now=utcnow(),
                             stale_after_days=organization.stale_after_days)
    result = db.paginate(stmt, page=page, per_page=per_page, max_per_page=PER_PAGE_MAX,
                         error_out=False)
    return jsonify({"items": _summaries(list(result.items), today), "page": page,
                    "per_page": per_page, "total": result.total, "pages": result.pages})


@bp.get("/me/tasks")
def my_tasks():
    user = api_user()
    today = local_today(user.organization.timezone)
    lead_stmt, support_stmt = queries.my_tasks(user)
    leading = list(db.session.execute(lead_stmt).scalars())
    supporting = list(db.session.execute(support_stmt).scalars())
    paths = task_paths(leading + supporting)
    return jsonify({
        "leading": [task_summary(t, paths[t.id], today) for t in leading],
        "supporting": [task_summary(t, paths[t.id], today) for t in supporting],
    })


def _detail(task: Task, user: User) -> dict:
    events = list(db.session.execute(
        select(TaskEvent).where(TaskEvent.task_id == task.id)
        .options(selectinload(TaskEvent.actor), selectinload(TaskEvent.attachments))
        .order_by(TaskEvent.id)).scalars())
    return task_detail(task, task_paths([task])[task.id],
                       local_today(user.organization.timezone), events)


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    user = api_user()
    return jsonify(_detail(policy.get_task_or_404(user, task_id), user))


def _update_arguments(body: object) -> dict:
    """Validate a PATCH body; returns the keyword arguments for the service."""
    if not isinstance(body, dict):
        raise InvalidInput(_("Send a JSON object, e.g. {\"version\": 3, \"progress\": 50}."),
                           "body")
    refused = sorted(set(body) - set(UPDATABLE_FIELDS) - {"version"})
    if refused:
        raise InvalidInput(
            _("These fields cannot be changed here: %(fields)s. The API updates only "
              "status, progress, actual_value and note.", fields=", ".join(refused)),
            refused[0])
    version = body.get("version")
    if version is None:
        raise InvalidInput(_("version is required: send the version you last read, "
                             "so that nobody's change is overwritten."), "version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_ID:
        raise InvalidInput(_("version must be a positive whole number."), "version")
    arguments: dict = {"expected_version": version}
    status = body.get("status")
    if status is not None:
        if not isinstance(status, str) or status not in TaskStatus.__members__:
            raise InvalidInput(_("status must be one of: %(names)s.",
                                 names=", ".join(TaskStatus.__members__)), "status")
        arguments["status"] = TaskStatus(status)
    progress = body.get("progress")
    if progress is not None:
        if isinstance(progress, bool) or not isinstance(progress, int):
            raise InvalidInput(_("progress must be a whole number from 0 to 100."), "progress")
        arguments["progress"] = progress
    note = body.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise InvalidInput(_("note must be text."), "note")
        arguments["note"] = note
    actual = body.get("actual_value")
    if actual is not None:
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            raise InvalidInput(_("actual_value must be a number."), "actual_value")
        try:
            value = Decimal(str(actual)).quantize(Decimal("0.01"))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or abs(value) >= ACTUAL_VALUE_LIMIT:
            raise InvalidInput(_("actual_value is out of range."), "actual_value")
        arguments["actual_value"] = value
    return arguments


@bp.patch("/tasks/<int:task_id>")
def update_task(task_id: int):
    user = api_user()
    task = policy.get_task_or_404(user, task_id)
    try:
        arguments = _update_arguments(request.get_json(silent=True))
    except InvalidInput as error:
        return _invalid(error)
    if not policy.can_comment_task(user, task):
        return api_error(403, _("You may not update this task."))
    changes_fields = {"status", "progress", "actual_value"} & set(arguments)
    if changes_fields and not policy.can_update_task(user, task):
        return api_error(403, _("As a supporting owner you may add a note, but only the lead "
                                "owner or a leader changes status, progress and actual value."),
                         field=sorted(changes_fields)[0])
    try:
        services.update_progress(task, user, **arguments)
    except services.ConflictError as error:
        db.session.rollback()
        current = policy.get_task_or_404(user, task_id)
        return api_error(409, error.message, current=_detail(current, user))
    except ServiceError as error:
        db.session.rollback()
        return api_error(400, error.message, **({"field": error.field} if error.field else {}))
    db.session.commit()
    return jsonify(_detail(policy.get_task_or_404(user, task_id), user))
