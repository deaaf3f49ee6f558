"""Who may see and do what. Every view asks here; nothing else checks roles.

Rules:
- Nobody sees another organisation's objects: fetching one by id answers 404.
- Admins and leaders see every task of their organisation; staff see the tasks
  they lead or support, directly or through one of their departments. The same
  ``visible_tasks`` select serves lists and fetch-by-id, so the two never disagree.
- Updating a task's status/progress: leaders and admins, and its lead owner (the
  lead user, or a member of the lead department when no lead user is set).
  Supporting owners may add notes and evidence.
- Assigning, setting due dates, cancelling and accepting: leaders and admins.
- Administration (users, departments, terms, settings): admins.
"""
from __future__ import annotations

from typing import Any

from flask import abort
from sqlalchemy import Select, exists, or_, select

from tracker.extensions import db
from tracker.models import (
    Role,
    Task,
    User,
    task_supporting_departments,
    task_supporting_users,
    user_departments,
)


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.role == Role.admin


def is_leader(user: User) -> bool:
    return user.is_authenticated and user.role in (Role.admin, Role.leader)


def require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def get_in_org_or_404(model: type, object_id: int, user: User) -> Any:
    """Fetch an object of the user's organisation by id; anything else is 404."""
    obj = db.session.get(model, object_id)
    if obj is None or getattr(obj, "organization_id", None) != user.organization_id:
        abort(404)
    return obj


def _my_departments(user: User):
    return select(user_departments.c.department_id).where(user_departments.c.user_id == user.id)


def visible_tasks(user: User) -> Select:
    stmt = select(Task).where(Task.organization_id == user.organization_id)
    if is_leader(user):
        return stmt
    supports_me = exists().where(task_supporting_users.c.task_id == Task.id,
                                 task_supporting_users.c.user_id == user.id)
    supports_my_dept = exists().where(
        task_supporting_departments.c.task_id == Task.id,
        task_supporting_departments.c.department_id.in_(_my_departments(user)))
    return stmt.where(or_(Task.lead_user_id == user.id,
                          Task.lead_department_id.in_(_my_departments(user)),
                          supports_me, supports_my_dept))


def get_task_or_404(user: User, task_id: int) -> Task:
    task = db.session.execute(visible_tasks(user).where(Task.id == task_id)).scalar_one_or_none()
    if task is None:
        abort(404)
    return task


def leads_task(user: User, task: Task) -> bool:
    if task.lead_user_id is not None:
        return task.lead_user_id == user.id
    return task.lead_department_id is not None and any(
        d.id == task.lead_department_id for d in user.departments)


def supports_task(user: User, task: Task) -> bool:
    my_depts = {d.id for d in user.departments}
    return (any(u.id == user.id for u in task.supporting_users)
            or any(d.id in my_depts for d in task.supporting_departments))


def can_update_task(user: User, task: Task) -> bool:
    if task.organization_id != user.organization_id:
        return False
    return is_leader(user) or leads_task(user, task)


def can_comment_task(user: User, task: Task) -> bool:
    return can_update_task(user, task) or supports_task(user, task)


def can_assign(user: User) -> bool:
    return is_leader(user)


def can_accept(user: User, task: Task) -> bool:
    return is_leader(user) and task.organization_id == user.organization_id


def can_administer(user: User) -> bool:
    return is_admin(user)


def can_manage_plans(user: User) -> bool:
    return is_leader(user)
