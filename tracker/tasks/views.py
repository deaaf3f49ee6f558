"""Task pages: my tasks, the organisation's task list, one task."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker import policy
from tracker.extensions import db
from tracker.i18n import local_today
from tracker.models import Plan, TaskEvent, TaskStatus, User
from tracker.services import ServiceError
from tracker.tasks import queries, services
from tracker.tasks.forms import STATUS_CHOICES, ProgressForm

bp = Blueprint("tasks", __name__)


@bp.before_request
@login_required
def _login() -> None:
    return None


@bp.route("/mine")
def mine():
    today = local_today()
    lead_stmt, support_stmt = queries.my_tasks(current_user)
    leading = db.session.execute(lead_stmt).scalars().all()
    supporting = db.session.execute(support_stmt).scalars().all()
    return render_template("tasks/mine.html", groups=queries.group_by_urgency(leading, today),
                           supporting=supporting, today=today)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.route("/")
def index():
    today = local_today()
    status = request.args.get("status", "")
    filters = {
        "plan": _int_arg("plan"), "department": _int_arg("department"),
        "owner": _int_arg("owner"),
        "status": status if status in TaskStatus.__members__ else "",
        "overdue": request.args.get("overdue") == "1",
        "q": request.args.get("q", "").strip()[:100], "sort": request.args.get("sort", "due"),
    }
    page = db.paginate(queries.task_list(current_user, filters=filters, today=today),
                       per_page=50, error_out=False)
    org_id = current_user.organization_id
    plans = db.session.execute(select(Plan).where(Plan.organization_id == org_id)
                               .order_by(Plan.created_at.desc())).scalars().all()
    owners = db.session.execute(select(User).where(User.organization_id == org_id,
                                                   User.active.is_(True))
                                .order_by(User.name)).scalars().all()
    return render_template("tasks/index.html", page=page, filters=filters, plans=plans,
                           owners=owners, departments=current_user.organization.departments,
                           statuses=STATUS_CHOICES, today=today)


@bp.route("/<int:task_id>", methods=["GET", "POST"])
def detail(task_id: int):
    task = policy.get_task_or_404(current_user, task_id)
    form = ProgressForm(status=task.status.value, progress=task.progress, version=task.version)
    conflict = None
    if form.validate_on_submit():
        policy.require(policy.can_comment_task(current_user, task))
        may_update = policy.can_update_task(current_user, task)
        try:
            services.update_progress(
                task, current_user,
                expected_version=int(form.version.data) if form.version.data.isdigit() else None,
                status=TaskStatus(form.status.data) if may_update else None,
                progress=form.progress.data if may_update else None,
                note=form.note.data or "")
        except services.ConflictError as error:
            conflict = error.message
            task = policy.get_task_or_404(current_user, task_id)
            form.version.data = task.version
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".detail", task_id=task.id))
    events = db.session.execute(
        select(TaskEvent).where(TaskEvent.task_id == task.id)
        .options(selectinload(TaskEvent.actor), selectinload(TaskEvent.attachments))
        .order_by(TaskEvent.id.desc())).scalars().all()
    path = _plan_path(task)
    return render_template("tasks/detail.html", task=task, form=form, events=events,
                           path=path, conflict=conflict, today=local_today(),
                           may_update=policy.can_update_task(current_user, task),
                           may_comment=policy.can_comment_task(current_user, task))


def _plan_path(task) -> list:
    """The chain of plan nodes from the top section down to the task's measure."""
    chain = []
    node = task.plan_node
    while node is not None:
        chain.append(node)
        node = node.parent
    return list(reversed(chain))
