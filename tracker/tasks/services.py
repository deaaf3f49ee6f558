"""Changing tasks: every change goes through here and leaves a history event.

Services flush and never commit; the request or command that calls them commits.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from tracker.extensions import db
from tracker.models import (
    OPEN_STATUSES,
    Acceptance,
    Attachment,
    Department,
    Organization,
    Task,
    TaskEvent,
    TaskStatus,
    Term,
    User,
    utcnow,
)
from tracker.services import ServiceError
from tracker.tasks import evidence
from tracker.tasks.recurrence import occurrences

NOTE_MAX_CHARS = 5000
MAX_FILES_PER_UPDATE = 10


class ConflictError(ServiceError):
    """Someone else changed the task since the form was loaded."""

    def __init__(self, task: Task):
        super().__init__(_("Someone else changed this task while you were editing it. "
                           "Its current values are shown; your input is kept below."))
        self.task = task


class BulkConflictError(ServiceError):
    """Some of the tasks of a bulk change were changed by someone else meanwhile; the
    change was applied to none of them."""

    def __init__(self, titles: list[str]):
        super().__init__(_(
            "Someone else changed %(tasks)s since you loaded the list, so nothing was "
            "changed. The list shows the current values; your choices are kept below.",
            tasks=format_list([f"“{t}”" for t in titles], locale=get_locale())))
        self.titles = titles


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def record_event(task: Task, actor: User | None, kind: str, changes: dict | None = None,
                 note: str = "") -> TaskEvent:
    event = TaskEvent(task=task, actor=actor, kind=kind, changes=changes or {}, note=note)
    db.session.add(event)
    task.last_activity_at = utcnow()
    return event


def _clean_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ServiceError(_("The note is too long (at most %(n)d characters).",
                             n=NOTE_MAX_CHARS), field="note")
    return note


def _changed_since(task: Task, expected_version: int | None) -> bool:
    return expected_version is not None and expected_version != task.version


def _check_version(task: Task, expected_version: int | None) -> None:
    if _changed_since(task, expected_version):
        raise ConflictError(task)


def _lock_rows(task_ids) -> None:
    """Take the row locks a change is about to need, all at once and in id order.

    Two changes that write the same tasks in different orders can deadlock on
    PostgreSQL: an owner's update writes an occurrence, then its measure (the roll-up); a
    leader's bulk action on both writes the measure first. Each holds a row the other
    waits for, until PostgreSQL aborts one (a 500). Taken in one order up front, one
    change waits for the other instead, and then meets the version check like any
    concurrent change (a conflict, not an error). The lock is the one an UPDATE takes
    (FOR NO KEY UPDATE), so history rows referring to a locked task are not held up.
    SQLite has no row locks (a writer holds the database from its first statement) and
    ignores the clause; the select only reads ids, so the session keeps the versions the
    caller checked."""
    ids = sorted(set(task_ids))
    if ids:
        db.session.execute(select(Task.id).where(Task.id.in_(ids)).order_by(Task.id)
                           .with_for_update(key_share=True))


def _check_versions(tasks: list[Task], expected: Mapping[int, int],
                    also: Iterable[int] = ()) -> dict[int, tuple]:
    """A bulk change checks every task before touching any, and locks them together with
    the other rows it is about to write (``also``: occurrences, measures), in one go (see
    ``_lock_rows``); returns what it read."""
    read = {t.id: (t.version, t.title) for t in tasks}
    changed = [t for t in tasks if _changed_since(t, expected.get(t.id))]
    if changed:
        raise BulkConflictError([t.title for t in changed])
    _lock_rows([*read, *also])
    return read


def _lock_with_measure(task: Task) -> None:
    """A change of an occurrence's status rolls up into its measure: both rows, locked
    before the first write (see ``_lock_rows``)."""
    if task.parent_id is not None:
        _lock_rows([task.id, task.parent_id])


def _occurrence_ids(tasks: list[Task]) -> dict[int, list[int]]:
    """Measure id → the ids of its occurrences, for the measures among ``tasks``: one
    statement, read before locking (ids only; the rows are read again once locked)."""
    found: dict[int, list[int]] = {}
    measure_ids = [t.id for t in tasks if t.parent_id is None]
    if measure_ids:
        for occurrence_id, parent_id in db.session.execute(
                select(Task.id, Task.parent_id).where(Task.parent_id.in_(measure_ids))
                .order_by(Task.id)):
            found.setdefault(parent_id, []).append(occurrence_id)
    return found


def _all(ids_by_measure: Mapping[int, list[int]]) -> list[int]:
    return [i for ids in ids_by_measure.values() for i in ids]


def _open_occurrences(occurrence_ids: Iterable[int], *options,
                      skip: Iterable[int] = ()) -> dict[int, list[Task]]:
    """Measure id → its open occurrences among ``occurrence_ids`` (less ``skip``: tasks
    the change was asked for, handled as such). Read once their rows are locked, as they
    are now, over anything the session loaded before; call it before changing anything
    (the query would flush)."""
    skip = set(skip)
    ids = [i for i in occurrence_ids if i not in skip]
    found: dict[int, list[Task]] = {}
    if ids:
        for task in db.session.execute(
                select(Task).where(Task.id.in_(ids), Task.status.in_(OPEN_STATUSES))
                .options(*options).order_by(Task.id)
                .execution_options(populate_existing=True)).scalars():
            found.setdefault(task.parent_id, []).append(task)
    return found


def _flush_bulk(read: dict[int, tuple]) -> None:
    """Flush a bulk change; a task updated since it was read undoes all of it."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        now = dict(db.session.execute(select(Task.id, Task.version)
                                      .where(Task.id.in_(read))).all())
        changed = [title for task_id, (version, title) in read.items()
                   if now.get(task_id) != version]
        raise BulkConflictError(changed or [title for version, title in read.values()]) from None


def _flush(task: Task) -> None:
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ConflictError(db.session.get(Task, task.id)) from None


def _store_uploads(uploads: list[Upload], folder: Path, max_bytes: int):
    if len(uploads) > MAX_FILES_PER_UPDATE:
        raise ServiceError(_("At most %(n)d files per update.", n=MAX_FILES_PER_UPDATE),
                           field="files")
    stored = []
    for upload in uploads:
        try:
            stored.append((upload, evidence.store(upload.data, folder, max_bytes)))
        except evidence.EvidenceError as error:
            raise ServiceError(_("%(file)s: %(problem)s", file=upload.filename,
                                 problem=_(error.message, **error.params)),
                               field="files") from None
    return stored


def _set_status(task: Task, status: TaskStatus, changes: dict) -> None:
    changes["status"] = [task.status.value, status.value]
    task.status = status
    if status == TaskStatus.done:
        task.completed_at = utcnow()
        if task.organization.requires_acceptance and task.acceptance != Acceptance.pending:
            changes["acceptance"] = [task.acceptance.value, Acceptance.pending.value]
            task.acceptance = Acceptance.pending
    else:
        if task.completed_at is not None:
            task.completed_at = None
        if task.acceptance in (Acceptance.pending, Acceptance.accepted):
            changes["acceptance"] = [task.acceptance.value, Acceptance.not_required.value]
            task.acceptance = Acceptance.not_required


def update_progress(task: Task, actor: User, *, expected_version: int | None,
                    status: TaskStatus | None = None, progress: int | None = None,
                    note: str = "", actual_value=None, uploads: list[Upload] = (),
                    upload_folder: Path | None = None, max_upload_bytes: int = 0) -> TaskEvent:
    """Status, progress, a note and evidence: what an owner records between lessons."""
    _check_version(task, expected_version)
    note = _clean_note(note)
    if progress is not None and not 0 <= progress <= 100:
        raise ServiceError(_("Progress must be between 0 and 100."), field="progress")
    if status == TaskStatus.cancelled and task.status != TaskStatus.cancelled:
        raise ServiceError(_("Only a leader can cancel a task."), field="status")
    if task.status == TaskStatus.cancelled and (
            status not in (None, task.status) or progress not in (None, task.progress)
            or actual_value not in (None, task.actual_value)):
        # Cancelled is a leader's decision (with its reason); nothing an owner records
        # reopens the task, nor its measure through the roll-up.
        raise ServiceError(_("This task was cancelled: its status, progress and actual value "
                             "no longer change. You can still add a note."), field="status")
    if status is not None and status != task.status:
        _lock_with_measure(task)  # the roll-up writes the measure too
    stored = _store_uploads(list(uploads), upload_folder, max_upload_bytes) if uploads else []
    changes: dict[str, list] = {}
    with db.session.no_autoflush:  # one UPDATE, so the version moves by exactly one
        if status is not None and status != task.status:
            _set_status(task, status, changes)
            if status == TaskStatus.done and progress is None:
                progress = 100
        if progress is not None and progress != task.progress:
            changes["progress"] = [task.progress, progress]
            task.progress = progress
        if actual_value is not None and actual_value != task.actual_value:
            changes["actual_value"] = [str(task.actual_value) if task.actual_value is not None
                                       else None, str(actual_value)]
            task.actual_value = actual_value
        if not changes and not note and not stored:
            raise ServiceError(_("Nothing to save: change the status or progress, write a "
                                 "note or attach a file."))
        event = record_event(task, actor, "updated" if changes else "note", changes, note)
        for upload, saved in stored:
            db.session.add(Attachment(
                event=event, task_id=task.id,
                original_name=evidence.safe_download_name(upload.filename),
                stored_name=saved.stored_name, content_type=saved.content_type,
                size=saved.size, sha256=saved.sha256))
    _flush(task)
    if task.parent_id is not None and "status" in changes:
        roll_up_occurrences(task.parent_id)
    return event


def roll_up_occurrences(parent_id: int) -> None:
    """A recurring measure's progress and status follow its occurrences, counted as the
    dashboards count them (``tracker.stats``): cancelled ones not at all, and where the
    organisation requires acceptance (验收) a done one as complete only once accepted.
    The measure is done when every occurrence counted is complete, in progress once one
    is started (or done, waiting for acceptance).

    A cancelled measure stays as the leader left it: nothing its occurrences record
    reopens it. Callers lock the measure's row with the occurrence's (``_lock_rows``)."""
    total = complete = started = 0
    for status, acceptance, required, n in db.session.execute(
            select(Task.status, Task.acceptance, Organization.requires_acceptance, func.count())
            .join(Organization, Organization.id == Task.organization_id)
            .where(Task.parent_id == parent_id)
            .group_by(Task.status, Task.acceptance, Organization.requires_acceptance)):
        if status == TaskStatus.cancelled:
            continue
        total += n
        if status != TaskStatus.not_started:
            started += n
        if status == TaskStatus.done and (acceptance == Acceptance.accepted or not required):
            complete += n
    if total == 0:
        return
    status = (TaskStatus.done if complete == total else
              TaskStatus.in_progress if started else TaskStatus.not_started)
    # A plain UPDATE: the parent's derived fields change without a history event of their
    # own; bumping the version makes any open form on the parent notice the change.
    db.session.execute(update(Task).where(
        Task.id == parent_id, Task.status != TaskStatus.cancelled).values(
        progress=round(100 * complete / total), status=status,
        completed_at=utcnow() if status == TaskStatus.done else None,
        version=Task.version + 1, last_activity_at=utcnow()))
    db.session.expire_all()


# Leaders: assignment, dates, cancelling, acceptance ---------------------------------

def assign(tasks: list[Task], actor: User, *, lead_user: User | None | bool = False,
           lead_department: Department | None | bool = False, due_date: date | None = None,
           note: str = "", expected_versions: Mapping[int, int] | None = None) -> int:
    """Set owner and/or department and/or due date on many tasks; False leaves a field.

    All or nothing: a task whose version is not the expected one (task id → version the
    form was loaded with), or that changes before the flush, raises BulkConflictError.

    A measure's new owner or department is passed on to its open occurrences, as
    ``edit_task`` does; done and cancelled ones keep theirs (their history is what it
    was). Its new due date is its own: each occurrence is due at the end of its period."""
    note = _clean_note(note)
    occurrences = (_occurrence_ids(tasks)
                   if lead_user is not False or lead_department is not False else {})
    read = _check_versions(tasks, expected_versions or {}, also=_all(occurrences))
    following = _open_occurrences(_all(occurrences), skip=read)
    changed = 0
    for task in tasks:
        changes: dict[str, list] = {}
        if lead_user is not False and task.lead_user_id != (lead_user.id if lead_user else None):
            changes["lead_user"] = [task.lead_user.name if task.lead_user else None,
                                    lead_user.name if lead_user else None]
            task.lead_user = lead_user
        if lead_department is not False and task.lead_department_id != (
                lead_department.id if lead_department else None):
            changes["lead_department"] = [
                task.lead_department.name if task.lead_department else None,
                lead_department.name if lead_department else None]
            task.lead_department = lead_department
        if due_date is not None and task.due_date != due_date:
            if task.start_date and due_date < task.start_date:
                raise ServiceError(_("The due date %(due)s is before the start date of "
                                     "“%(task)s”.", due=due_date.isoformat(), task=task.title),
                                   field="due_date")
            changes["due_date"] = [task.due_date.isoformat() if task.due_date else None,
                                   due_date.isoformat()]
            task.due_date = due_date
        if changes:
            record_event(task, actor, "assigned", changes, note)
            _pass_on_owners(task, following.get(task.id, []), changes, actor, "assigned",
                            note)
            changed += 1
    _flush_bulk(read)
    return changed


def _label(value) -> object:
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "name") and not hasattr(value, "value"):
        return value.name
    if hasattr(value, "value"):
        return value.value
    return [_label(v) for v in value] if isinstance(value, list) else str(value)


def edit_task(task: Task, actor: User, *, expected_version: int | None, values: dict,
              note: str = "", term: Term | None = None) -> TaskEvent | None:
    """A leader's edit of any of a task's planned fields, with one history event."""
    _check_version(task, expected_version)
    note = _clean_note(note)
    start = values.get("start_date", task.start_date)
    due = values.get("due_date", task.due_date)
    if start and due and due < start:
        raise ServiceError(_("The due date must not be before the start date."),
                           field="due_date")
    if "title" in values and not (values["title"] or "").strip():
        raise ServiceError(_("The title must not be empty."), field="title")
    following: list[Task] = []
    if any(field in values for field in OWNER_FIELDS):
        occurrence_ids = _occurrence_ids([task]).get(task.id, [])
        if occurrence_ids:
            _lock_rows([task.id, *occurrence_ids])
            following = _open_occurrences(
                occurrence_ids, selectinload(Task.supporting_users),
                selectinload(Task.supporting_departments)).get(task.id, [])
    changes: dict[str, list] = {}
    with db.session.no_autoflush:
        for field, value in values.items():
            current = getattr(task, field)
            if not _same(current, value):
                changes[field] = [_label(current), _label(value)]
                setattr(task, field, value)
        if not changes and not note:
            return None
        event = record_event(task, actor, "edited", changes, note)
        _pass_on_owners(task, following, changes, actor, "edited", note)
    _flush(task)
    if "recurrence" in changes and task.recurrence is not None and term is not None:
        ensure_occurrences(task, term, actor)
    return event


OWNER_FIELDS = ("lead_user", "lead_department", "supporting_users", "supporting_departments")


def _same(current, value) -> bool:
    if isinstance(value, list):
        return {x.id for x in current} == {x.id for x in value}
    return current == value


def _pass_on_owners(measure: Task, occurrences: list[Task], changes: Mapping[str, list],
                    actor: User | None, kind: str, note: str) -> None:
    """A measure's new owners, passed on to its open occurrences (``_open_occurrences``,
    rows locked), each with its own history event: whoever sees the measure can also
    open and update the occurrence it offers them."""
    moved = [field for field in OWNER_FIELDS if field in changes]
    for occurrence in occurrences if moved else ():
        passed: dict[str, list] = {}
        for field in moved:
            current, value = getattr(occurrence, field), getattr(measure, field)
            if not _same(current, value):
                passed[field] = [_label(current), _label(value)]
                setattr(occurrence, field, list(value) if isinstance(value, list) else value)
        if passed:
            record_event(occurrence, actor, kind, passed, note)


def _cancel_one(task: Task, actor: User | None, note: str) -> None:
    changes: dict[str, list] = {}
    _set_status(task, TaskStatus.cancelled, changes)
    record_event(task, actor, "cancelled", changes, note)


def cancel(tasks: list[Task], actor: User, note: str, *,
           expected_versions: Mapping[int, int] | None = None) -> int:
    """Cancel many tasks, all or nothing (see ``assign``); returns how many changed.

    A cancelled measure takes its open occurrences with it, each with the same reason in
    its own history; done ones stay done, so the report still shows what was achieved.
    A cancelled occurrence no longer counts in its measure's roll-up."""
    note = _clean_note(note)
    if not note:
        raise ServiceError(_("Say why the tasks are cancelled; the reason goes into the "
                             "report."), field="note")
    occurrences = _occurrence_ids(tasks)
    measure_ids = sorted({t.parent_id for t in tasks if t.parent_id is not None})
    read = _check_versions(tasks, expected_versions or {},
                           also=[*_all(occurrences), *measure_ids])
    following = _open_occurrences(_all(occurrences), skip=read)
    changed = 0
    for task in tasks:
        if task.status != TaskStatus.cancelled:
            _cancel_one(task, actor, note)
            changed += 1
    for occurrence in (o for group in following.values() for o in group):
        _cancel_one(occurrence, actor, note)
    _flush_bulk(read)
    for measure_id in measure_ids:
        roll_up_occurrences(measure_id)
    return changed


def accept(task: Task, actor: User, *, expected_version: int | None, note: str = "") -> None:
    _check_version(task, expected_version)
    if task.status != TaskStatus.done or task.acceptance != Acceptance.pending:
        raise ServiceError(_("Only a done task waiting for acceptance can be accepted."))
    note = _clean_note(note)
    _lock_with_measure(task)  # an accepted occurrence counts as complete in its measure
    task.acceptance, task.accepted_by, task.accepted_at = Acceptance.accepted, actor, utcnow()
    record_event(task, actor, "accepted", {"acceptance": ["pending", "accepted"]}, note)
    _flush(task)
    if task.parent_id is not None:
        roll_up_occurrences(task.parent_id)


def send_back(task: Task, actor: User, *, expected_version: int | None, note: str) -> None:
    """Refuse acceptance: the task goes back to in progress with the leader's reason."""
    _check_version(task, expected_version)
    note = _clean_note(note)
    if not note:
        raise ServiceError(_("Say what is missing when sending a task back."), field="note")
    if task.status != TaskStatus.done or task.acceptance != Acceptance.pending:
        raise ServiceError(_("Only a done task waiting for acceptance can be sent back."))
    _lock_with_measure(task)  # reopened, the occurrence rolls up into its measure
    changes = {"acceptance": ["pending", "rejected"], "status": ["done", "in_progress"]}
    task.acceptance, task.status, task.completed_at = (Acceptance.rejected,
                                                       TaskStatus.in_progress, None)
    record_event(task, actor, "sent_back", changes, note)
    _flush(task)
    if task.parent_id is not None:
        roll_up_occurrences(task.parent_id)


# Recurring measures ----------------------------------------------------------------

def ensure_occurrences(task: Task, term: Term, actor: User | None = None) -> int:
    """Create the missing occurrences of a recurring task for the term (idempotent); a
    cancelled measure gets none (its open occurrences were cancelled with it)."""
    if (task.recurrence is None or task.parent_id is not None
            or task.status == TaskStatus.cancelled):
        return 0
    existing = set(db.session.execute(select(Task.due_date).where(
        Task.parent_id == task.id)).scalars())
    created = 0
    for occurrence in occurrences(task.recurrence.value, term.start_date, term.end_date):
        if occurrence.due in existing:
            continue
        child = Task(organization_id=task.organization_id, plan_id=task.plan_id,
                     plan_node_id=task.plan_node_id, parent=task,
                     title=f"{task.title}（{occurrence.label}）"[:300],
                     start_date=occurrence.start, due_date=occurrence.due,
                     lead_user=task.lead_user, lead_department=task.lead_department,
                     supporting_users=list(task.supporting_users),
                     supporting_departments=list(task.supporting_departments),
                     target_text=task.target_text)
        db.session.add(child)
        record_event(child, actor, "created", {}, "")
        created += 1
    db.session.flush()
    return created


def is_stale(task: Task, now: datetime, stale_after_days: int) -> bool:
    return task.is_open and (now - task.last_activity_at).days >= stale_after_days
