"""Loads what the composer needs for one plan, in a fixed number of queries.

Figures come from ``tracker.stats`` with the same scope as the plan's dashboard and
``GET /api/v1/stats?plan=ID`` (the plan, its term as the window, the same "now"), so
the report's numbers are the dashboard's. The rest is read with one select each —
nodes, tasks (owners and departments joined), history events, evidence counts
(GROUP BY) and the previous term's plan — whatever the number of tasks:
10 queries for a plan, 12 with a previous term.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from tracker import stats
from tracker.calendar import default_term
from tracker.models import (
    Attachment,
    Department,
    Organization,
    Plan,
    PlanNode,
    Task,
    TaskEvent,
    Term,
    User,
)
from tracker.reports.compose import EventRow, NodeRow, PreviousTerm, ReportInput, TaskRow

# History events worth reading: anything with a note, and changes of due dates.
EVENT_KINDS = ("updated", "note", "edited", "accepted", "cancelled", "sent_back", "assigned",
               "plan_revised")


def plan_scope(session: Session, plan: Plan, now: datetime) -> stats.Scope:
    """The dashboard's scope for this plan: its term's dates as the window."""
    org = plan.organization
    info = stats.org_info(org)
    term = plan.term
    if term is not None:
        start, end, term_ids = term.start_date, term.end_date, (term.id,)
    else:
        dates = default_term(now.astimezone(ZoneInfo(org.timezone)).date())
        start, end, term_ids = dates.start, dates.end, ()
    return stats.Scope(orgs=(info,), start=start, end=end, now=now, term_ids=term_ids,
                       plan_id=plan.id)


def load(session: Session, plan: Plan, now: datetime) -> ReportInput:
    org: Organization = plan.organization
    zone = ZoneInfo(org.timezone)
    scope = plan_scope(session, plan, now)
    today = scope.today(scope.orgs[0])

    node_counts = stats.grouped_counts(session, scope, "node")
    totals = stats.sum_counts(node_counts.values())
    sections_top = stats.by_section(session, scope, plan.id, node_counts)
    departments = stats.worst_first(stats.by_department(session, scope))
    series = stats.completion_series(session, scope, active_total=totals.active)

    nodes = [NodeRow(id=r.id, parent_id=r.parent_id, position=r.position, label=r.label,
                     heading=r.heading, text=r.text, kind=r.kind.value)
             for r in session.execute(
                 select(PlanNode.id, PlanNode.parent_id, PlanNode.position, PlanNode.label,
                        PlanNode.heading, PlanNode.text, PlanNode.kind)
                 .where(PlanNode.plan_id == plan.id).order_by(PlanNode.position))]

    parent = aliased(Task, name="parent")
    owner = aliased(User, name="owner")
    dept = aliased(Department, name="dept")
    node_id = func.coalesce(Task.plan_node_id, parent.plan_node_id)
    rows = session.execute(
        select(Task.id, Task.parent_id, node_id.label("node_id"), Task.title, Task.status,
               Task.acceptance, Task.progress, Task.due_date, Task.completed_at,
               Task.created_at, Task.target_text, Task.target_value, Task.target_unit,
               Task.actual_value, Task.recurrence, owner.name.label("owner"),
               dept.name.label("department"))
        .outerjoin(parent, parent.id == Task.parent_id)
        .outerjoin(owner, owner.id == func.coalesce(Task.lead_user_id, parent.lead_user_id))
        .outerjoin(dept, dept.id == func.coalesce(Task.lead_department_id,
                                                  parent.lead_department_id))
        .where(func.coalesce(Task.plan_id, parent.plan_id) == plan.id,
               Task.organization_id == org.id)
        .order_by(Task.id)).all()
    tasks = [TaskRow(id=r.id, parent_id=r.parent_id, node_id=r.node_id, title=r.title,
                     status=r.status.value, acceptance=r.acceptance.value, progress=r.progress,
                     due=r.due_date,
                     completed_on=r.completed_at.astimezone(zone).date() if r.completed_at
                     else None,
                     created_at=r.created_at, owner=r.owner, department=r.department,
                     target_text=r.target_text, target_value=r.target_value,
                     target_unit=r.target_unit, actual_value=r.actual_value,
                     recurrence=r.recurrence.value if r.recurrence else None)
             for r in rows]

    plan_tasks = (select(Task.id).outerjoin(parent, parent.id == Task.parent_id)
                  .where(func.coalesce(Task.plan_id, parent.plan_id) == plan.id,
                         Task.organization_id == org.id))
    events = [EventRow(task_id=r.task_id, kind=r.kind, changes=r.changes or {},
                       note=r.note or "", created_on=r.created_at.astimezone(zone).date(),
                       created_at=r.created_at)
              for r in session.execute(
                  select(TaskEvent.task_id, TaskEvent.kind, TaskEvent.changes, TaskEvent.note,
                         TaskEvent.created_at)
                  .where(TaskEvent.task_id.in_(plan_tasks), TaskEvent.kind.in_(EVENT_KINDS))
                  .order_by(TaskEvent.created_at, TaskEvent.id))]
    evidence = dict(session.execute(
        select(Attachment.task_id, func.count()).where(Attachment.task_id.in_(plan_tasks))
        .group_by(Attachment.task_id)).all())

    return ReportInput(
        org_name=org.name, term_name=plan.term.name if plan.term else None,
        plan_title=plan.title, plan_created_at=plan.created_at, today=today,
        requires_acceptance=bool(org.requires_acceptance), nodes=nodes, tasks=tasks,
        events=events, evidence=evidence, totals=totals, node_counts=node_counts,
        sections_top=sections_top, departments=departments, series=series,
        previous=_previous(session, plan, now))


def _previous(session: Session, plan: Plan, now: datetime) -> PreviousTerm | None:
    """The same organisation's latest plan of an earlier term, with its figures."""
    if plan.term is None:
        return None
    row = session.execute(
        select(Plan.id, Plan.title, Term.name)
        .join(Term, Term.id == Plan.term_id)
        .where(Plan.organization_id == plan.organization_id, Plan.id != plan.id,
               Term.end_date <= plan.term.start_date)
        .order_by(Term.end_date.desc(), Plan.created_at.desc()).limit(1)).first()
    if row is None:
        return None
    previous = session.get(Plan, row.id)
    counts = stats.totals(session, plan_scope(session, previous, now))
    return PreviousTerm(term_name=row.name, plan_title=row.title, counts=counts)
