"""Report fixtures: the demo school at term end, and small plans built node by node."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import (
    Acceptance,
    NodeKind,
    Organization,
    Plan,
    PlanNode,
    PlanStatus,
    Task,
    TaskEvent,
    TaskStatus,
    Term,
)

# The demo school's default term for this day is 2024-09-01 … 2025-01-20.
DEMO_TODAY = date(2025, 1, 17)
DEMO_NOW = datetime(2025, 1, 17, 2, tzinfo=timezone.utc)


@pytest.fixture
def demo(app):
    """The demo school as it stands three days before its term ends: ids only."""
    from tracker.demo import create_demo

    with app.app_context():
        org = create_demo(DEMO_TODAY)
        db.session.commit()
        plan = db.session.execute(select(Plan).where(Plan.organization_id == org.id)).scalar_one()
        ids = {"org": org.id, "plan": plan.id, "term": plan.term_id}
        db.session.remove()
    return ids


def section_titles(plan_id: int) -> list[str]:
    """The plan's sections, computed independently of the composer: nodes with children
    whose subtree holds a task, in document order, as printed (label + first line)."""
    nodes = db.session.execute(select(PlanNode).where(PlanNode.plan_id == plan_id)
                               .order_by(PlanNode.position)).scalars().all()
    tasks = set(db.session.execute(select(Task.plan_node_id).where(
        Task.plan_id == plan_id, Task.parent_id.is_(None))).scalars())
    children: dict = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node.id)

    def has_tasks(node_id):
        return node_id in tasks or any(has_tasks(c) for c in children.get(node_id, []))

    result = []
    for node in nodes:
        if (children.get(node.id) or node.kind == NodeKind.section) and has_tasks(node.id):
            first = next((line.strip() for line in (node.heading or node.text).splitlines()
                          if line.strip()), "")
            result.append(f"{node.label}{first}".strip())
    return result


def build_plan(org: Organization, term: Term, outcome: str, *, evidence: bool = False,
               today: date) -> Plan:
    """Two sections (一、 二、) of two measures each, all with the given outcome:
    "nothing" (not started, past due), "everything" (done on time) or "mixed"."""
    plan = Plan(organization_id=org.id, term=term, title="测试学校工作计划",
                status=PlanStatus.active)
    db.session.add(plan)
    position = 0
    for s, (label, heading) in enumerate([("一、", "德育工作"), ("二、", "教学工作")]):
        section = PlanNode(plan=plan, position=position, label=label, number=label, level=1,
                           heading=heading, text=heading, kind=NodeKind.section)
        position += 1
        db.session.add(section)
        for m in range(2):
            node = PlanNode(plan=plan, parent=section, position=position, label=f"{m + 1}.",
                            number=str(m + 1), level=2, heading=f"措施{s}{m}",
                            text=f"措施{s}{m}：开展活动", kind=NodeKind.measure)
            position += 1
            db.session.add(node)
            due = today - timedelta(days=10 + m)
            task = Task(organization_id=org.id, plan=plan, plan_node=node, title=f"措施{s}{m}",
                        due_date=due, start_date=term.start_date, target_text="100%")
            db.session.add(task)
            db.session.flush()
            db.session.add(TaskEvent(task=task, kind="created", changes={}, note=""))
            if outcome == "everything" or (outcome == "mixed" and m == 0):
                done_at = datetime.combine(due - timedelta(days=2), datetime.min.time(),
                                           timezone.utc) + timedelta(hours=3)
                task.status, task.progress, task.completed_at = TaskStatus.done, 100, done_at
                task.acceptance = Acceptance.not_required
                event = TaskEvent(task=task, kind="updated", created_at=done_at,
                                  changes={"status": ["in_progress", "done"]},
                                  note="活动已开展，参与学生300人。")
                db.session.add(event)
                db.session.flush()
                if evidence:
                    from tracker.models import Attachment

                    db.session.add(Attachment(event_id=event.id, task_id=task.id,
                                              original_name="照片.png", stored_name="x",
                                              content_type="image/png", size=1, sha256="0" * 64))
            elif outcome == "mixed":
                task.status = TaskStatus.blocked
                db.session.add(TaskEvent(task=task, kind="updated",
                                         changes={"status": ["in_progress", "blocked"]},
                                         note="场地未落实"))
    db.session.flush()
    return plan


# 一、 holds a measure, a sub-section, then two more measures of its own: the report
# must say them in that order. Each row: label, heading, depth below 一、, kind, outcome.
INTERLEAVED = [
    ("一、", "德育工作", 0, NodeKind.section, None),
    ("1.", "开好升旗仪式", 1, NodeKind.measure, "done"),
    ("（一）", "班主任队伍建设", 1, NodeKind.section, None),
    ("1.", "每月召开班主任例会", 2, NodeKind.measure, "open"),
    ("2.", "开展班主任培训", 2, NodeKind.measure, "done"),
    ("2.", "办好家长学校", 1, NodeKind.measure, "done"),
    ("3.", "做好心理健康教育", 1, NodeKind.measure, "open"),
    ("二、", "教学工作", 0, NodeKind.section, None),
    ("1.", "开展集体备课", 1, NodeKind.measure, "done"),
]


def build_interleaved_plan(org: Organization, term: Term, *, today: date) -> Plan:
    """The plan of ``INTERLEAVED``: positions in document order, done measures done on
    time, open ones not started and not yet due."""
    plan = Plan(organization_id=org.id, term=term, title="交错计划", status=PlanStatus.active)
    db.session.add(plan)
    parents: list[PlanNode] = []
    for position, (label, heading, depth, kind, outcome) in enumerate(INTERLEAVED):
        del parents[depth:]
        node = PlanNode(plan=plan, parent=parents[-1] if parents else None, position=position,
                        label=label, number=label.strip("、.（）"), level=depth + 1,
                        heading=heading, text=heading, kind=kind)
        db.session.add(node)
        parents.append(node)
        if outcome is None:
            continue
        task = Task(organization_id=org.id, plan=plan, plan_node=node, title=heading,
                    start_date=term.start_date, due_date=today + timedelta(days=5))
        if outcome == "done":
            task.status, task.progress = TaskStatus.done, 100
            task.completed_at = datetime.combine(today - timedelta(days=1), datetime.min.time(),
                                                 timezone.utc) + timedelta(hours=3)
        db.session.add(task)
    db.session.flush()
    return plan
