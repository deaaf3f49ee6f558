"""Selects for task pages; each returns a ``Select`` the caller can page or count."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Select, and_, case, exists, or_, select
from sqlalchemy.orm import selectinload

from tracker import policy
from tracker.models import (
    OPEN_STATUSES,
    Task,
    TaskStatus,
    User,
    task_supporting_departments,
    task_supporting_users,
    user_departments,
)

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
    leads = or_(Task.lead_user_id == user.id,
                and_(Task.lead_user_id.is_(None), Task.lead_department_id.in_(mine)))
    supports = or_(
        exists().where(task_supporting_users.c.task_id == Task.id,
                       task_supporting_users.c.user_id == user.id),
        exists().where(task_supporting_departments.c.task_id == Task.id,
                       task_supporting_departments.c.department_id.in_(mine)))
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


def task_list(user: User, *, filters: dict, today: date) -> Select:
    stmt = policy.visible_tasks(user).where(Task.parent_id.is_(None)).options(*LIST_LOAD)
    if filters.get("plan"):
        stmt = stmt.where(Task.plan_id == filters["plan"])
    if filters.get("department"):
        stmt = stmt.where(Task.lead_department_id == filters["department"])
    if filters.get("owner"):
        stmt = stmt.where(Task.lead_user_id == filters["owner"])
    if filters.get("status"):
        stmt = stmt.where(Task.status == TaskStatus(filters["status"]))
    if filters.get("overdue"):
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES), Task.due_date < today)
    if filters.get("q"):
        stmt = stmt.where(Task.title.contains(filters["q"]))
    stmt = stmt.order_by(*SORTS.get(filters.get("sort") or "due", SORTS["due"]))
    return stmt


STATUS_ORDER = case({s: i for i, s in enumerate(TaskStatus)}, value=Task.status)
