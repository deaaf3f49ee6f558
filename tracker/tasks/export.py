"""The task ledger (台账) export: ``/tasks/export.xlsx`` takes the task list's filters.

Loading is a fixed number of queries however many tasks match: the tasks with
their owners, plan paths, evidence counts and latest notes, each in one select
driven by the same filtered Select as the list (as a subquery, so no long id lists).
"""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import send_file
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, select

from tracker.extensions import db
from tracker.i18n import local_today
from tracker.models import Attachment, Task, TaskEvent
from tracker.tasks.forms import STATUS_CHOICES
from tracker.tasks.paths import node_label, task_paths
from tracker.tasks.views import bp, filtered_tasks

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def ledger_headers() -> dict[str, str]:
    return {
        "task_id": _("No."), "plan_path": _("Plan section"), "measure": _("Measure"),
        "lead_owner": _("Lead owner"), "lead_department": _("Lead department"),
        "supporting": _("Supporting"), "start_date": _("Start"), "due_date": _("Due"),
        "status": _("Status"), "progress": _("Progress %"), "acceptance": _("Acceptance"),
        "last_update": _("Last update"), "last_note": _("Latest note"),
        "evidence_count": _("Evidence files"),
    }


def _acceptance_labels() -> dict[str, str]:
    return {"not_required": "", "pending": _("Waiting for acceptance"),
            "accepted": _("Accepted"), "rejected": _("Sent back")}


def ledger_rows(stmt: Select, tz_name: str) -> list:
    """Rows of the ledger for the tasks ``stmt`` selects, in its order."""
    # Imported here, not at start-up: openpyxl costs every worker ~24 MiB of memory.
    from tracker.tasks.ledger import LedgerRow

    tasks = list(db.session.execute(stmt).scalars())
    ids = stmt.with_only_columns(Task.id).order_by(None).scalar_subquery()
    evidence = dict(db.session.execute(
        select(Attachment.task_id, func.count()).where(Attachment.task_id.in_(ids))
        .group_by(Attachment.task_id)).all())
    latest_noted = (select(func.max(TaskEvent.id)).where(TaskEvent.task_id.in_(ids),
                                                         TaskEvent.note != "")
                    .group_by(TaskEvent.task_id).scalar_subquery())
    notes = dict(db.session.execute(select(TaskEvent.task_id, TaskEvent.note)
                                    .where(TaskEvent.id.in_(latest_noted))).all())
    paths = task_paths(tasks)
    zone = ZoneInfo(tz_name)
    status_labels = {value: str(label) for value, label in STATUS_CHOICES}
    acceptance_labels = _acceptance_labels()

    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(zone).replace(tzinfo=None, microsecond=0) if moment else None

    rows = []
    for task in tasks:
        path = paths[task.id]
        supporting = [u.name for u in task.supporting_users] + [
            d.name for d in task.supporting_departments]
        rows.append(LedgerRow(
            task_id=task.id,
            plan_path=" › ".join(node_label(node) for node in path[:-1]),
            measure=task.title if not path else f"{path[-1].label}{task.title}",
            lead_owner=task.lead_user.name if task.lead_user else "",
            lead_department=task.lead_department.name if task.lead_department else "",
            supporting="、".join(supporting),
            start_date=task.start_date, due_date=task.due_date,
            status=status_labels[task.status.value], progress=task.progress,
            acceptance=acceptance_labels[task.acceptance.value],
            last_update=local(task.last_activity_at), last_note=notes.get(task.id, ""),
            evidence_count=evidence.get(task.id, 0)))
    return rows


@bp.route("/export.xlsx")
def export_ledger():
    """The filtered task list (all pages) as an .xlsx ledger."""
    organization = current_user.organization
    today = local_today(organization.timezone)
    rows = ledger_rows(filtered_tasks(), organization.timezone)
    title = _("%(org)s task ledger (%(date)s)", org=organization.name, date=today.isoformat())
    from tracker.tasks.ledger import build_workbook

    data = build_workbook(rows, ledger_headers(), title, sheet_name=_("Ledger"))
    return send_file(io.BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"{_('Task ledger')}-{today.isoformat()}.xlsx",
                     max_age=0)
