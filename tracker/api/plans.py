"""Plans over the API: the organisation's plans, and one plan's tree with its tasks.

Everyone in an organisation reads its plans (as on the plan pages); the tasks
attached to the tree are only those ``policy.visible_tasks`` shows the caller.
"""
from __future__ import annotations

from collections import defaultdict

from flask import jsonify
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from tracker import policy
from tracker.api.base import api_user, bp
from tracker.api.serializers import plan_summary, plan_tree
from tracker.extensions import db
from tracker.models import Plan, PlanNode, Task


def _visible_top_level(user) -> Select:
    return policy.visible_tasks(user).where(Task.parent_id.is_(None))


@bp.get("/plans")
def list_plans():
    user = api_user()
    visible = _visible_top_level(user).subquery()
    counts = dict(db.session.execute(
        select(visible.c.plan_id, func.count()).where(visible.c.plan_id.is_not(None))
        .group_by(visible.c.plan_id)).all())
    plans = db.session.execute(
        select(Plan).where(Plan.organization_id == user.organization_id)
        .options(selectinload(Plan.term)).order_by(Plan.created_at.desc(), Plan.id.desc())
    ).scalars()
    return jsonify({"items": [plan_summary(p, counts.get(p.id, 0)) for p in plans]})


@bp.get("/plans/<int:plan_id>")
def get_plan(plan_id: int):
    user = api_user()
    plan = policy.get_in_org_or_404(Plan, plan_id, user)
    nodes = list(db.session.execute(select(PlanNode).where(PlanNode.plan_id == plan.id)
                                    .order_by(PlanNode.position)).scalars())
    tasks_by_node: dict[int | None, list[Task]] = defaultdict(list)
    tasks = db.session.execute(_visible_top_level(user).where(Task.plan_id == plan.id)
                               .order_by(Task.id)).scalars()
    count = 0
    for task in tasks:
        tasks_by_node[task.plan_node_id].append(task)
        count += 1
    return jsonify({
        **plan_summary(plan, count),
        "preamble": plan.preamble,
        "nodes": plan_tree(nodes, tasks_by_node),
        "unplaced_tasks": [{"id": t.id, "status": t.status.value, "progress": t.progress}
                           for t in tasks_by_node.get(None, [])],
    })
