"""Changing tasks: every change goes through here and leaves a history event."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from tracker.extensions import db
from tracker.models import Acceptance, Task, TaskEvent, TaskStatus, User, utcnow
from tracker.services import ServiceError

NOTE_MAX_CHARS = 5000


class ConflictError(ServiceError):
    """Someone else changed the task since the form was loaded."""

    def __init__(self, task: Task):
        super().__init__(_("Someone else changed this task while you were editing it. "
                           "Its current values are shown; your input is kept below."))
        self.task = task


def _jsonable(value: Any) -> Any:
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def record_event(task: Task, actor: User | None, kind: str, changes: dict | None = None,
                 note: str = "") -> TaskEvent:
    event = TaskEvent(task=task, actor=actor, kind=kind, changes=changes or {}, note=note)
    db.session.add(event)
    task.last_activity_at = utcnow()
    return event


def update_progress(task: Task, actor: User, *, expected_version: int | None,
                    status: TaskStatus | None = None, progress: int | None = None,
                    note: str = "") -> TaskEvent:
    """Status, progress and a note: what an owner records between lessons."""
    if expected_version is not None and expected_version != task.version:
        raise ConflictError(task)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ServiceError(_("The note is too long (at most %(n)d characters).",
                             n=NOTE_MAX_CHARS), field="note")
    if progress is not None and not 0 <= progress <= 100:
        raise ServiceError(_("Progress must be between 0 and 100."), field="progress")
    changes: dict[str, list] = {}
    if status is not None and status != task.status:
        changes["status"] = [task.status.value, status.value]
        task.status = status
        if status == TaskStatus.done:
            task.completed_at = utcnow()
            if progress is None:
                progress = 100
            if task.organization.requires_acceptance:
                changes["acceptance"] = [task.acceptance.value, Acceptance.pending.value]
                task.acceptance = Acceptance.pending
        elif task.completed_at is not None:
            changes["completed_at"] = [task.completed_at.isoformat(), None]
            task.completed_at = None
    if progress is not None and progress != task.progress:
        changes["progress"] = [task.progress, progress]
        task.progress = progress
    if not changes and not note:
        raise ServiceError(_("Nothing to save: change the status or progress, or write a note."))
    event = record_event(task, actor, "updated" if changes else "note", changes, note)
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ConflictError(db.session.get(Task, task.id)) from None
    return event
