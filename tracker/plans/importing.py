"""Turning a parsed (and previewed) plan into a Plan, PlanNodes and Tasks.

``create_plan`` builds a new plan; ``revise_plan`` replaces a plan's tree with a
revised version while keeping the tasks (and their history) of measures it still has.
Both flush and never commit: the caller's transaction makes the import all or nothing.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select

from tracker.extensions import db
from tracker.models import (
    Department,
    NodeKind,
    Organization,
    Plan,
    PlanNode,
    PlanStatus,
    Recurrence,
    Task,
    TaskStatus,
    Term,
    User,
)
from tracker.plans.revision import Matching, Measure, match
from tracker.tasks.services import cancel, ensure_occurrences, record_event

# The history note of a measure a revision drops (the report words it in its language).
REMOVED_IN_REVISION = "measure removed in a revision of the plan"

TITLE_MAX = 300


def walk(nodes: list[dict], parent: dict | None = None) -> Iterator[tuple[dict, dict | None]]:
    for node in nodes:
        yield node, parent
        yield from walk(node.get("children") or [], node)


def iter_measures(nodes: list[dict], prefix: str = "") -> Iterator[tuple[str, dict]]:
    """(printed path, node) for every measure, in document order."""
    for node in nodes:
        path = prefix + (node.get("label") or "")
        if node.get("children"):
            yield from iter_measures(node["children"], path)
        elif node.get("kind") == "measure":
            yield path, node


def measure_title(node: dict) -> str:
    title = (node.get("heading") or node.get("text") or node.get("label") or "").strip()
    return title[:TITLE_MAX] or "—"


def match_department(owners: list[str], departments: dict[str, Department]) -> Department | None:
    """The organisation's department named by the first owner hint that names one."""
    for owner in owners:
        if owner in departments:
            return departments[owner]
    for owner in owners:  # 教务处 matches 教务处（课程中心）
        for name, department in departments.items():
            if owner in name or name in owner:
                return department
    return None


@dataclass
class _Context:
    org: Organization
    plan: Plan
    actor: User | None
    departments: dict[str, Department]
    department_ids: dict[int, Department]
    users: dict[int, User]


def _context(org: Organization, plan: Plan, actor: User | None) -> _Context:
    departments = list(org.departments)
    users = db.session.execute(select(User).where(User.organization_id == org.id)).scalars()
    return _Context(org, plan, actor, {d.name: d for d in departments},
                    {d.id: d for d in departments}, {u.id: u for u in users})


def _add_nodes(ctx: _Context, nodes: list[dict]) -> dict[int, PlanNode]:
    """Insert the tree; returns python id(node dict) → PlanNode."""
    rows: dict[int, PlanNode] = {}
    for position, (node, parent) in enumerate(walk(nodes)):
        row = PlanNode(plan=ctx.plan, parent=rows.get(id(parent)) if parent else None,
                       position=position, label=node.get("label", ""),
                       number=node.get("number", ""), level=node.get("level", 1),
                       heading=node.get("heading", ""), text=node.get("text", ""),
                       kind=NodeKind.section if node.get("children") else
                       NodeKind(node.get("kind", "measure")),
                       hints=node.get("hints"), source_line=node.get("line"))
        rows[id(node)] = row
        db.session.add(row)
    return rows


def _task_fields(ctx: _Context, node: dict) -> dict:
    hints = node.get("hints") or {}
    due = date.fromisoformat(hints["due"]) if hints.get("due") else None
    term = ctx.plan.term
    department = (ctx.department_ids.get(node.get("department_id") or 0)
                  or match_department(hints.get("owners") or [], ctx.departments))
    return {"title": measure_title(node), "description": node.get("text", ""), "due_date": due,
            "recurrence": Recurrence(hints["recurrence"]) if hints.get("recurrence") else None,
            "target_text": hints.get("target") or None, "lead_department": department,
            "lead_user": ctx.users.get(node.get("lead_user_id") or 0),
            "start_date": term.start_date if term and due and term.start_date <= due else None}


def _create_task(ctx: _Context, row: PlanNode, node: dict) -> Task:
    task = Task(organization_id=ctx.org.id, plan=ctx.plan, plan_node=row,
                **_task_fields(ctx, node))
    db.session.add(task)
    record_event(task, ctx.actor, "created", {}, "")
    return task


def create_plan(org: Organization, term: Term | None, parsed: dict, *, actor: User | None,
                title: str | None = None, source_filename: str | None = None,
                source_text: str = "", status: PlanStatus = PlanStatus.active) -> Plan:
    """Create the plan tree and one task per measure (plus recurring occurrences)."""
    plan = Plan(organization_id=org.id, term=term,
                title=(title or parsed.get("title") or source_filename or "—")[:200],
                status=status, source_filename=source_filename, source_text=source_text,
                preamble=parsed.get("preamble") or "", trailer=parsed.get("trailer") or "",
                created_by=actor)
    db.session.add(plan)
    ctx = _context(org, plan, actor)
    nodes = parsed.get("nodes") or []
    rows = _add_nodes(ctx, nodes)
    tasks = [_create_task(ctx, rows[id(node)], node) for _, node in iter_measures(nodes)]
    db.session.flush()
    if term is not None:
        for task in tasks:
            ensure_occurrences(task, term, actor)
    return plan


# Revisions -------------------------------------------------------------------------

def existing_measures(plan: Plan) -> list[Measure]:
    nodes = db.session.execute(select(PlanNode).where(PlanNode.plan_id == plan.id)
                               .order_by(PlanNode.position)).scalars().all()
    by_id = {n.id: n for n in nodes}
    parents = {n.parent_id for n in nodes}
    measures = []
    for node in nodes:
        if node.id in parents or node.kind != NodeKind.measure:
            continue
        path, cursor = [], node
        while cursor is not None:
            path.append(cursor.label)
            cursor = by_id.get(cursor.parent_id)
        measures.append(Measure(node.id, "".join(reversed(path)),
                                node.heading + "\n" + node.text))
    return measures


def plan_revision(plan: Plan, parsed_nodes: list[dict]) -> tuple[Matching, dict[int, dict]]:
    """How a revised tree matches the plan's measures; new keys index ``parsed_nodes``."""
    new_nodes = {}
    new = []
    for key, (path, node) in enumerate(iter_measures(parsed_nodes)):
        new_nodes[key] = node
        new.append(Measure(key, path, (node.get("heading") or "") + "\n" +
                           (node.get("text") or "")))
    return match(existing_measures(plan), new), new_nodes


def revise_plan(plan: Plan, parsed: dict, *, actor: User | None, source_filename: str | None,
                source_text: str) -> Matching:
    """Replace the tree; matched measures keep their tasks, removed ones are cancelled."""
    nodes = parsed.get("nodes") or []
    matching, new_nodes = plan_revision(plan, nodes)
    tasks_by_node = {t.plan_node_id: t for t in db.session.execute(
        select(Task).where(Task.plan_id == plan.id, Task.parent_id.is_(None))).scalars()}
    ctx = _context(plan.organization, plan, actor)
    old_nodes = db.session.execute(select(PlanNode).where(PlanNode.plan_id == plan.id)).scalars()
    for node in old_nodes:
        node.position = -node.id  # out of the way of the new positions
    db.session.flush()
    rows = _add_nodes(ctx, nodes)
    db.session.flush()
    new_row = {key: rows[id(node)] for key, node in new_nodes.items()}
    for old_id, new_key, _score in matching.matched:
        task = tasks_by_node.get(old_id)
        if task is None:
            continue
        node = new_nodes[new_key]
        task.plan_node = new_row[new_key]
        changes = {}
        for field in ("title", "description"):
            value = measure_title(node) if field == "title" else node.get("text", "")
            if getattr(task, field) != value:
                changes[field] = [getattr(task, field), value]
                setattr(task, field, value)
        if changes:
            record_event(task, actor, "plan_revised", changes, "")
        children = db.session.execute(select(Task).where(Task.parent_id == task.id)).scalars()
        for child in children:
            child.plan_node = new_row[new_key]
    for new_key in matching.added:
        _create_task(ctx, new_row[new_key], new_nodes[new_key])
    removed = [task for old_id in matching.removed
               if (task := tasks_by_node.get(old_id)) is not None]
    for task in removed:
        if task.status != TaskStatus.cancelled:
            task.plan_node = None
    # As a leader's cancel: a dropped recurring measure takes its open occurrences with it.
    cancel(removed, actor, REMOVED_IN_REVISION)
    db.session.flush()
    db.session.execute(delete(PlanNode).where(PlanNode.plan_id == plan.id, PlanNode.position < 0)
                       .execution_options(synchronize_session=False))
    plan.source_filename, plan.source_text = source_filename, source_text
    plan.preamble, plan.trailer = parsed.get("preamble") or "", parsed.get("trailer") or ""
    db.session.flush()
    return matching
