"""District cascade: a district pushes its plan down to its schools and sees it roll up.

Each school receives its own copy of the plan (``Plan.source_plan_id``) with one task
per district measure (``Task.source_task_id``), unassigned, due when the district's
measure is due; the school assigns and works them like its own. Pushing again adds
only what a school does not have yet. The roll-up counts, per district measure, the
schools' tasks by status with one GROUP BY.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import (
    Acceptance,
    NodeKind,
    Organization,
    Plan,
    PlanNode,
    PlanStatus,
    Task,
    TaskStatus,
    User,
)
from tracker.services import ServiceError
from tracker.tasks.services import record_event


def _subtree_ids(nodes: list[PlanNode], roots: set[int]) -> set[int]:
    children = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node.id)
    chosen, stack = set(), list(roots)
    while stack:
        node_id = stack.pop()
        chosen.add(node_id)
        stack.extend(children[node_id])
    return chosen


def push_down(plan: Plan, schools: list[Organization], actor: User,
              section_ids: list[int] | None = None) -> dict[int, int]:
    """Copy the plan (or chosen top sections) to each school; school id → tasks created."""
    if plan.organization.kind.value != "district":
        raise ServiceError("only a district's plan can be pushed down to schools")
    for school in schools:
        if school.parent_id != plan.organization_id:
            raise ServiceError(f"{school.name} is not a school of {plan.organization.name}")
    nodes = db.session.execute(select(PlanNode).where(PlanNode.plan_id == plan.id)
                               .order_by(PlanNode.position)).scalars().all()
    keep = _subtree_ids(nodes, set(section_ids)) if section_ids else {n.id for n in nodes}
    # Ancestors of kept nodes stay too, so the copy keeps the district's numbering.
    by_id = {n.id: n for n in nodes}
    for node_id in list(keep):
        parent = by_id[node_id].parent_id
        while parent is not None and parent not in keep:
            keep.add(parent)
            parent = by_id[parent].parent_id
    district_tasks = {t.plan_node_id: t for t in db.session.execute(
        select(Task).where(Task.plan_id == plan.id, Task.parent_id.is_(None))).scalars()}
    created: dict[int, int] = {}
    for school in schools:
        created[school.id] = _push_to_school(plan, school, actor,
                                             [n for n in nodes if n.id in keep], district_tasks)
    db.session.flush()
    return created


def _push_to_school(plan: Plan, school: Organization, actor: User, nodes: list[PlanNode],
                    district_tasks: dict[int, Task]) -> int:
    copy = db.session.execute(select(Plan).where(Plan.organization_id == school.id,
                                                 Plan.source_plan_id == plan.id)) \
        .scalar_one_or_none()
    if copy is None:
        copy = Plan(organization_id=school.id, title=plan.title, status=PlanStatus.active,
                    source_plan=plan, source_filename=plan.source_filename,
                    source_text=plan.source_text, preamble=plan.preamble,
                    trailer=plan.trailer, created_by=actor)
        db.session.add(copy)
        db.session.flush()
    have = set(db.session.execute(select(Task.source_task_id).where(
        Task.organization_id == school.id, Task.source_task_id.is_not(None))).scalars())
    existing_nodes = db.session.execute(select(PlanNode).where(PlanNode.plan_id == copy.id)) \
        .scalars().all()
    position = max((n.position for n in existing_nodes), default=-1) + 1
    copies: dict[int, PlanNode] = {}
    by_label = {(n.level, n.label, n.heading): n for n in existing_nodes}
    count = 0
    for node in nodes:
        source = district_tasks.get(node.id)
        if source is not None and source.id in have:
            continue
        key = (node.level, node.label, node.heading)
        new = by_label.get(key)
        if new is None:
            new = PlanNode(plan=copy, parent=copies.get(node.parent_id), position=position,
                           label=node.label, number=node.number, level=node.level,
                           heading=node.heading, text=node.text, kind=node.kind,
                           hints=node.hints, source_line=node.source_line)
            position += 1
            db.session.add(new)
            by_label[key] = new
        copies[node.id] = new
        if node.kind == NodeKind.measure and source is not None:
            task = Task(organization_id=school.id, plan=copy, plan_node=new, source_task=source,
                        title=source.title, description=source.description,
                        start_date=source.start_date, due_date=source.due_date,
                        recurrence=source.recurrence, target_text=source.target_text)
            db.session.add(task)
            record_event(task, actor, "created", {}, "pushed down by the district")
            count += 1
    return count


@dataclass
class MeasureRollup:
    task: Task
    schools: int = 0
    done: int = 0
    overdue: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def completion(self) -> float | None:
        return self.done / self.schools if self.schools else None


def rollup(plan: Plan, today) -> list[MeasureRollup]:
    """Per district measure: how many schools have it, have completed it, are overdue."""
    district_tasks = db.session.execute(
        select(Task).join(PlanNode, Task.plan_node_id == PlanNode.id)
        .where(Task.plan_id == plan.id, Task.parent_id.is_(None))
        .order_by(PlanNode.position)).scalars().all()
    result = {t.id: MeasureRollup(task=t) for t in district_tasks}
    school_orgs = select(Organization.id).where(Organization.parent_id == plan.organization_id)
    requires = {o.id: o.requires_acceptance for o in plan.organization.children}
    rows = db.session.execute(
        select(Task.source_task_id, Task.organization_id, Task.status, Task.acceptance,
               (Task.due_date < today).label("late"), func.count())
        .where(Task.source_task_id.in_(list(result)), Task.organization_id.in_(school_orgs),
               Task.status != TaskStatus.cancelled)
        .group_by(Task.source_task_id, Task.organization_id, Task.status, Task.acceptance,
                  "late"))
    for source_id, org_id, status, acceptance, late, count in rows:
        item = result[source_id]
        item.schools += count
        item.by_status[status.value] = item.by_status.get(status.value, 0) + count
        complete = status == TaskStatus.done and (
            not requires.get(org_id) or acceptance == Acceptance.accepted)
        if complete:
            item.done += count
        elif status != TaskStatus.done and late:
            item.overdue += count
    return list(result.values())
