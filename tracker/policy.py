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

from collections.abc import Callable
from functools import cache
from typing import Any

from flask import abort
from sqlalchemy import Select, bindparam, exists, or_, select

from tracker import inputs
from tracker.extensions import db
from tracker.models import (
    Organization,
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


MAX_ID = inputs.MAX_ID  # larger ids cannot exist (and PostgreSQL rejects them as integers)


def get_in_org_or_404(model: type, object_id: int, user: User) -> Any:
    """Fetch an object of the user's organisation by id; anything else is 404."""
    if not 0 < object_id <= MAX_ID:
        abort(404)
    obj = db.session.get(model, object_id)
    if obj is None or getattr(obj, "organization_id", None) != user.organization_id:
        abort(404)
    return obj


def visible_tasks(user: User) -> Select:
    """The tasks ``user`` may see. Never combine the selects of two different users in
    one statement: their bound parameters share names, so both would take one user's
    values. Executed without them, the rule fails ("a value is required")."""
    return visible_tasks_rule(is_leader(user)).params(**viewer_params(user))


def viewer_params(user: User) -> dict[str, int]:
    """Values for the bound parameters of ``visible_tasks_rule``."""
    return {"viewer_id": user.id, "viewer_org": user.organization_id}


@cache
def visible_tasks_rule(leader: bool) -> Select:
    """The visibility rule with the viewer as bound parameters ``viewer_id`` and
    ``viewer_org`` (``viewer_params``): built once per kind of viewer, not per request
    (building it showed in profiles of the list pages). Statements are immutable, so one
    copy serves every thread."""
    stmt = select(Task).where(Task.organization_id == bindparam("viewer_org"))
    if leader:
        return stmt
    viewer = bindparam("viewer_id")
    my_departments = select(user_departments.c.department_id).where(
        user_departments.c.user_id == viewer)
    supports_me = exists().where(task_supporting_users.c.task_id == Task.id,
                                 task_supporting_users.c.user_id == viewer)
    supports_my_dept = exists().where(
        task_supporting_departments.c.task_id == Task.id,
        task_supporting_departments.c.department_id.in_(my_departments))
    return stmt.where(or_(Task.lead_user_id == viewer,
                          Task.lead_department_id.in_(my_departments),
                          supports_me, supports_my_dept))


def get_task_or_404(user: User, task_id: int, *options) -> Task:
    """The task if ``user`` may see it, else 404; ``options`` are loader options."""
    if not 0 < task_id <= MAX_ID:
        abort(404)
    task = db.session.execute(visible_tasks(user).where(Task.id == task_id)
                              .options(*options)).scalar_one_or_none()
    if task is None:
        abort(404)
    return task


def my_department_ids(user: User) -> set[int]:
    """The ids of the user's departments (``user.departments``: read once per request)."""
    return {d.id for d in user.departments}


def supports_task(user: User, task: Task) -> bool:
    my_depts = my_department_ids(user)
    return (any(u.id == user.id for u in task.supporting_users)
            or any(d.id in my_depts for d in task.supporting_departments))


def update_checker(user: User) -> Callable[[Task], bool]:
    """``can_update_task`` for one user and many tasks (a page of cards): the user's side
    of the rule — role, organisation, departments — is worked out once."""
    org_id = user.organization_id
    if is_leader(user):
        return lambda task: task.organization_id == org_id
    user_id, department_ids = user.id, None

    def check(task: Task) -> bool:
        nonlocal department_ids
        if task.organization_id != org_id:
            return False
        if task.lead_user_id is not None:  # the lead user, else the lead department's members
            return task.lead_user_id == user_id
        if task.lead_department_id is None:
            return False
        if department_ids is None:  # read only when a task is led by a department
            department_ids = my_department_ids(user)
        return task.lead_department_id in department_ids
    return check


def can_update_task(user: User, task: Task) -> bool:
    return update_checker(user)(task)


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


def can_view_org_stats(user: User, org: Organization) -> bool:
    """Leaders and admins see their organisation's dashboard; a district's leaders and
    admins also see (read-only) the dashboards of the district's schools."""
    if not is_leader(user):
        return False
    return org.id == user.organization_id or org.parent_id == user.organization_id


def get_org_for_stats_or_404(user: User, org_id: int) -> Organization:
    """An organisation whose figures the user asks for: their own or a child school.

    Anything else answers 404 (it is not theirs to know about); staff of the
    organisation get 403."""
    org = db.session.get(Organization, org_id) if 0 < org_id <= MAX_ID else None
    if org is None or (org.id != user.organization_id and org.parent_id != user.organization_id):
        abort(404)
    require(can_view_org_stats(user, org))
    return org


def can_push_down(user: User, plan) -> bool:
    """District leaders push their own district's plans down to its schools."""
    return (is_leader(user) and plan.organization_id == user.organization_id
            and user.organization.kind.value == "district")


def can_report_on_plan(user: User, plan) -> bool:
    """Term reports of a plan: the leaders and admins of the plan's organisation."""
    return is_leader(user) and plan.organization_id == user.organization_id


def can_district_report(user: User) -> bool:
    """A district's report on its schools: the district's leaders and admins."""
    return is_leader(user) and user.organization.kind.value == "district"


def can_retry_report(user: User, report) -> bool:
    """Having a failed or interrupted report generated again: the leaders and admins of
    the report's organisation (the same people who asked for it and receive it)."""
    return is_leader(user) and report.organization_id == user.organization_id


def get_report_or_404(user: User, report_id: int):
    """A stored report of the user's organisation (else 404), for its leaders (else 403)."""
    from tracker.models import Report

    report = db.session.get(Report, report_id) if 0 < report_id <= MAX_ID else None
    if report is None or report.organization_id != user.organization_id:
        abort(404)
    require(is_leader(user))
    return report
