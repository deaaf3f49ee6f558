"""Plan pages: the list and a plan's tree with its tasks."""
from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker import policy
from tracker.extensions import db
from tracker.models import Plan, PlanNode, Task

bp = Blueprint("plans", __name__)


@bp.before_request
@login_required
def _login() -> None:
    return None


@bp.route("/")
def index():
    plans = db.session.execute(
        select(Plan, func.count(Task.id))
        .outerjoin(Task, (Task.plan_id == Plan.id) & Task.parent_id.is_(None))
        .where(Plan.organization_id == current_user.organization_id)
        .options(selectinload(Plan.term))
        .group_by(Plan.id).order_by(Plan.created_at.desc())).all()
    return render_template("plans/index.html", plans=plans)


@bp.route("/<int:plan_id>")
def detail(plan_id: int):
    plan = policy.get_in_org_or_404(Plan, plan_id, current_user)
    nodes = db.session.execute(select(PlanNode).where(PlanNode.plan_id == plan.id)
                               .order_by(PlanNode.position)).scalars().all()
    visible = policy.visible_tasks(current_user).where(Task.plan_id == plan.id,
                                                       Task.parent_id.is_(None))
    tasks_by_node: dict[int, list[Task]] = defaultdict(list)
    for task in db.session.execute(visible.options(
            selectinload(Task.lead_user), selectinload(Task.lead_department))).scalars():
        tasks_by_node[task.plan_node_id].append(task)
    children: dict[int | None, list[PlanNode]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    return render_template("plans/detail.html", plan=plan, children=children,
                           tasks_by_node=tasks_by_node)
