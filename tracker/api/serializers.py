"""Objects → JSON-ready dicts, one shape per schema in ``openapi.py``.

Serializers read only what the caller loaded (``queries.LIST_LOAD``, plan paths
from ``tasks.paths``); they never query.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import url_for

from tracker.models import (
    Attachment,
    Department,
    Plan,
    PlanNode,
    Task,
    TaskEvent,
    User,
)
from tracker.tasks.paths import node_label


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def user_ref(user: User | None) -> dict | None:
    return {"id": user.id, "name": user.name} if user is not None else None


def department_ref(department: Department | None) -> dict | None:
    return {"id": department.id, "name": department.name} if department is not None else None


def path_item(node: PlanNode) -> dict:
    return {"id": node.id, "label": node.label, "title": node_label(node)}


def task_summary(task: Task, path: list[PlanNode], today: date) -> dict:
    return {
        "id": task.id,
        "title": task.title,
        "status": task.status.value,
        "progress": task.progress,
        "start_date": _iso(task.start_date),
        "due_date": _iso(task.due_date),
        "overdue": task.is_overdue(today),
        "recurrence": task.recurrence.value if task.recurrence else None,
        "acceptance": task.acceptance.value,
        "lead_user": user_ref(task.lead_user),
        "lead_department": department_ref(task.lead_department),
        "supporting_users": [user_ref(u) for u in task.supporting_users],
        "supporting_departments": [department_ref(d) for d in task.supporting_departments],
        "plan_id": task.plan_id,
        "plan_node_id": task.plan_node_id,
        "parent_id": task.parent_id,
        "plan_path": [path_item(node) for node in path],
        "last_activity_at": _iso(task.last_activity_at),
        "version": task.version,
        "url": url_for("tasks.detail", task_id=task.id, _external=True),
    }


def attachment(item: Attachment) -> dict:
    return {"id": item.id, "name": item.original_name, "content_type": item.content_type,
            "size": item.size, "created_at": _iso(item.created_at)}


def task_event(event: TaskEvent) -> dict:
    return {
        "id": event.id,
        "kind": event.kind,
        "created_at": _iso(event.created_at),
        "actor": user_ref(event.actor),
        "changes": event.changes or {},
        "note": event.note,
        "attachments": [attachment(a) for a in event.attachments],
    }


def task_detail(task: Task, path: list[PlanNode], today: date,
                events: list[TaskEvent]) -> dict:
    measure = path[-1] if path else None
    return {
        **task_summary(task, path, today),
        "description": task.description,
        "measure_text": measure.text if measure is not None else None,
        "target_text": task.target_text,
        "target_value": _number(task.target_value),
        "target_unit": task.target_unit,
        "actual_value": _number(task.actual_value),
        "completed_at": _iso(task.completed_at),
        "accepted_at": _iso(task.accepted_at),
        "history": [task_event(e) for e in events],
    }


def plan_summary(plan: Plan, task_count: int) -> dict:
    return {
        "id": plan.id,
        "title": plan.title,
        "status": plan.status.value,
        "term": {"id": plan.term.id, "name": plan.term.name} if plan.term else None,
        "created_at": _iso(plan.created_at),
        "task_count": task_count,
        "url": url_for("plans.detail", plan_id=plan.id, _external=True),
    }


def plan_tree(nodes: list[PlanNode], tasks_by_node: dict[int | None, list[Task]]) -> list[dict]:
    """Nested nodes (document order) with the visible tasks of each measure."""
    items: dict[int, dict] = {}
    roots: list[dict] = []
    for node in nodes:  # ordered by position: a parent comes before its children
        items[node.id] = {
            "id": node.id, "label": node.label, "number": node.number, "level": node.level,
            "kind": node.kind.value, "heading": node.heading, "text": node.text,
            "tasks": [{"id": t.id, "status": t.status.value, "progress": t.progress}
                      for t in tasks_by_node.get(node.id, [])],
            "children": [],
        }
        parent = items.get(node.parent_id) if node.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(items[node.id])
    return roots
