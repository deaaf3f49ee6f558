"""Turning a parsed plan (the parser's JSON shape) into a Plan, PlanNodes and Tasks."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

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
    Term,
    User,
)
from tracker.tasks.services import record_event

TITLE_MAX = 300


def walk(nodes: list[dict], parent: dict | None = None) -> Iterator[tuple[dict, dict | None]]:
    for node in nodes:
        yield node, parent
        yield from walk(node.get("children") or [], node)


def measure_title(node: dict) -> str:
    title = (node.get("heading") or node.get("text") or node.get("label") or "").strip()
    return title[:TITLE_MAX] or "—"


def match_department(owners: list[str], departments: dict[str, Department]) -> Department | None:
    for owner in owners:
        if owner in departments:
            return departments[owner]
    for owner in owners:  # 教务处 matches 教务处（课程中心）
        for name, department in departments.items():
            if owner in name or name in owner:
                return department
    return None


def create_plan(org: Organization, term: Term | None, parsed: dict, *, actor: User | None,
                title: str | None = None, source_filename: str | None = None,
                source_text: str = "", status: PlanStatus = PlanStatus.active) -> Plan:
    """Create the plan tree and one task per measure; flushes, never commits."""
    plan = Plan(organization_id=org.id, term=term,
                title=(title or parsed.get("title") or source_filename or "—")[:200],
                status=status, source_filename=source_filename, source_text=source_text,
                preamble=parsed.get("preamble") or "", trailer=parsed.get("trailer") or "",
                created_by=actor)
    db.session.add(plan)
    departments = {d.name: d for d in org.departments}
    rows: dict[int, PlanNode] = {}
    for position, (node, parent) in enumerate(walk(parsed.get("nodes") or [])):
        row = PlanNode(plan=plan, parent=rows.get(id(parent)) if parent else None,
                       position=position, label=node.get("label", ""),
                       number=node.get("number", ""), level=node.get("level", 1),
                       heading=node.get("heading", ""), text=node.get("text", ""),
                       kind=NodeKind(node.get("kind", "measure")), hints=node.get("hints"),
                       source_line=node.get("line"))
        rows[id(node)] = row
        db.session.add(row)
        if row.kind == NodeKind.measure:
            _create_task(plan, row, node.get("hints") or {}, departments, actor)
    db.session.flush()
    return plan


def _create_task(plan: Plan, node: PlanNode, hints: dict, departments: dict[str, Department],
                 actor: User | None) -> Task:
    due = date.fromisoformat(hints["due"]) if hints.get("due") else None
    task = Task(organization_id=plan.organization_id, plan=plan, plan_node=node,
                title=measure_title({"heading": node.heading, "text": node.text}),
                description=node.text, due_date=due,
                recurrence=Recurrence(hints["recurrence"]) if hints.get("recurrence") else None,
                target_text=(hints.get("target") or None),
                lead_department=match_department(hints.get("owners") or [], departments),
                start_date=plan.term.start_date if plan.term and due and
                plan.term.start_date <= due else None)
    db.session.add(task)
    record_event(task, actor, "created", {}, "")
    return task
