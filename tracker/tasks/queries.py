"""Selects for task pages; each returns a ``Select`` the caller can page or count."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from tracker import policy
from tracker.extensions import db
from tracker.models import (
    OPEN_STATUSES,
    Attachment,
    PlanNode,
    Task,
    TaskStatus,
    User,
    task_supporting_departments,
    task_supporting_users,
    user_departments,
)
from tracker.tasks import paths

LIST_LOAD = (
    selectinload(Task.lead_user),
    selectinload(Task.lead_department),
    selectinload(Task.plan_node),
    selectinload(Task.supporting_departments),
    selectinload(Task.supporting_users),
)


def my_tasks(user: User) -> tuple[Select, Select]:
    """(tasks I lead, tasks I support): top-level tasks, soonest due first."""
    mine = select(user_departments.c.department_id).where(user_departments.c.user_id == user.id)
    base = policy.visible_tasks(user).where(Task.parent_id.is_(None)).options(*LIST_LOAD)
    # Written so that it is never NULL (a NULL would make ``~leads`` drop unassigned tasks
    # I support) and so that the database can use the lead-user index.
    leads = or_(func.coalesce(Task.lead_user_id, 0) == user.id,
                and_(func.coalesce(Task.lead_user_id, 0) == 0,
                     func.coalesce(Task.lead_department_id, 0).in_(mine)))
    supports = or_(
        Task.id.in_(select(task_supporting_users.c.task_id)
                    .where(task_supporting_users.c.user_id == user.id)),
        Task.id.in_(select(task_supporting_departments.c.task_id)
                    .where(task_supporting_departments.c.department_id.in_(mine))))
    order = (Task.due_date.is_(None), Task.due_date, Task.id)
    return (base.where(leads).order_by(*order),
            base.where(~leads, supports).order_by(*order))


def group_by_urgency(tasks: list[Task], today: date) -> dict[str, list[Task]]:
    week_end = today + timedelta(days=6 - today.weekday())
    groups: dict[str, list[Task]] = {"overdue": [], "this_week": [], "later": [], "done": []}
    for task in tasks:
        if not task.is_open:
            groups["done"].append(task)
        elif task.due_date is not None and task.due_date < today:
            groups["overdue"].append(task)
        elif task.due_date is not None and task.due_date <= week_end:
            groups["this_week"].append(task)
        else:
            groups["later"].append(task)
    return groups


SORTS = {
    "due": (Task.due_date.is_(None), Task.due_date, Task.id),
    "-due": (Task.due_date.is_(None), Task.due_date.desc(), Task.id),
    "status": (Task.status, Task.id),
    "progress": (Task.progress, Task.id),
    "updated": (Task.last_activity_at.desc(), Task.id),
    "plan": (Task.plan_id, Task.plan_node_id, Task.id),
}


def section_node_ids(section_id: int) -> Select:
    """The node and all its descendants (recursive CTE: works on SQLite and PostgreSQL)."""
    tree = select(PlanNode.id).where(PlanNode.id == section_id).cte("tree", recursive=True)
    child = aliased(PlanNode)
    tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id))
    return select(tree.c.id)


def task_list(user: User, *, filters: dict, today: date, now: datetime | None = None,
              stale_after_days: int = 14) -> Select:
    stmt = policy.visible_tasks(user).where(Task.parent_id.is_(None)).options(*LIST_LOAD)
    if filters.get("plan"):
        stmt = stmt.where(Task.plan_id == filters["plan"])
    if filters.get("section"):
        stmt = stmt.where(Task.plan_node_id.in_(section_node_ids(filters["section"])))
    if filters.get("department"):
        stmt = stmt.where(Task.lead_department_id == filters["department"])
    if filters.get("owner"):
        stmt = stmt.where(Task.lead_user_id == filters["owner"])
    if filters.get("status"):
        stmt = stmt.where(Task.status == TaskStatus(filters["status"]))
    if filters.get("overdue"):
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES), Task.due_date < today)
    if filters.get("stale") and now is not None:
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES),
                          Task.last_activity_at < now - timedelta(days=stale_after_days))
    if filters.get("due_from"):
        stmt = stmt.where(Task.due_date >= filters["due_from"])
    if filters.get("due_to"):
        stmt = stmt.where(Task.due_date <= filters["due_to"])
    if filters.get("q"):
        stmt = stmt.where(Task.title.contains(filters["q"]))
    return stmt.order_by(*SORTS.get(filters.get("sort") or "due", SORTS["due"]))


def plan_paths(tasks: list[Task]) -> dict[int, str]:
    """Printed numbers of each task's measure, e.g. "三、（一）1.", keyed by plan node id.

    Reads three columns of the plans' nodes (not whole ORM objects: a list page needs
    only the labels, and building ~300 node objects per request showed in profiles)."""
    plan_ids = {t.plan_id for t in tasks if t.plan_node_id is not None}
    if not plan_ids:
        return {}
    rows = db.session.execute(select(PlanNode.id, PlanNode.parent_id, PlanNode.label)
                              .where(PlanNode.plan_id.in_(plan_ids))).all()
    nodes = {row.id: row for row in rows}
    return {t.plan_node_id: "".join(n.label for n in paths.chain(nodes, t.plan_node_id))
            for t in tasks if t.plan_node_id is not None}


def next_occurrences(tasks: list[Task]) -> dict[int, Task]:
    """For recurring tasks: their earliest open occurrence — one query for all."""
    ids = [t.id for t in tasks if t.recurrence is not None]
    if not ids:
        return {}
    result: dict[int, Task] = {}
    for occurrence in db.session.execute(
            select(Task).where(Task.parent_id.in_(ids), Task.status.in_(OPEN_STATUSES))
            .order_by(Task.due_date)).scalars():
        result.setdefault(occurrence.parent_id, occurrence)
    return result


def evidence_counts(task_ids: list[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    return dict(db.session.execute(select(Attachment.task_id, func.count())
                                   .where(Attachment.task_id.in_(task_ids))
                                   .group_by(Attachment.task_id)).all())


def occurrence_summary(parent_ids: list[int]) -> dict[int, tuple[int, int]]:
    """parent id → (done, total excluding cancelled)."""
    if not parent_ids:
        return {}
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for parent_id, status, count in db.session.execute(
            select(Task.parent_id, Task.status, func.count())
            .where(Task.parent_id.in_(parent_ids)).group_by(Task.parent_id, Task.status)):
        if status == TaskStatus.cancelled:
            continue
        totals[parent_id][1] += count
        if status == TaskStatus.done:
            totals[parent_id][0] += count
    return {k: (v[0], v[1]) for k, v in totals.items()}
