"""Plan paths ("一、德育工作 › （二）… › 3. …") of many tasks in one query.

A task points at its measure (``plan_node_id``); the path is the chain of nodes
from the top section down to it. Walking ``node.parent`` per task would cost one
query per level per task, so the nodes on the paths are loaded at once (a recursive CTE)
and the chains are built in memory (``chain`` is pure).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import aliased

from tracker.extensions import db
from tracker.models import PlanNode, Task


def node_label(node: PlanNode) -> str:
    """How a node reads in a path: its printed number and heading (or the start of its text)."""
    title = node.heading or node.text
    if len(title) > 60:
        title = title[:59] + "…"
    return f"{node.label}{title}".strip()


def chain(nodes: Mapping[int, PlanNode], node_id: int | None) -> list[PlanNode]:
    """The nodes from the top section down to ``node_id`` (pure; cycles are cut)."""
    path: list[PlanNode] = []
    seen: set[int] = set()
    while node_id is not None and node_id in nodes and node_id not in seen:
        seen.add(node_id)
        node = nodes[node_id]
        path.append(node)
        node_id = node.parent_id
    return list(reversed(path))


def _ancestors() -> Select:
    """Nodes from each given node up to its top section (recursive CTE; SQLite and
    PostgreSQL); built once, the ids bound per call."""
    up = (select(PlanNode.id.label("id"), PlanNode.parent_id.label("parent_id"))
          .where(PlanNode.id.in_(bindparam("node_ids", expanding=True)))
          .cte("up", recursive=True))
    parent = aliased(PlanNode)
    # UNION, not UNION ALL: a row seen before ends the walk, so a cycle in damaged data
    # cannot loop forever (``chain`` then cuts it, as it always did).
    up = up.union(select(parent.id, parent.parent_id).where(parent.id == up.c.parent_id))
    return select(PlanNode).where(PlanNode.id.in_(select(up.c.id)))


_ANCESTORS = _ancestors()


def load_nodes(tasks: Iterable[Task]) -> dict[int, PlanNode]:
    """The nodes on the tasks' plan paths, by id (one query). Only those: a plan has
    hundreds of nodes, and loading them all for one task page showed in its profile."""
    node_ids = sorted({task.plan_node_id for task in tasks if task.plan_node_id is not None})
    if not node_ids:
        return {}
    rows = db.session.execute(_ANCESTORS, {"node_ids": node_ids})
    return {node.id: node for node in rows.scalars()}


def task_paths(tasks: Iterable[Task]) -> dict[int, list[PlanNode]]:
    """Task id → its plan path (empty for tasks outside a plan)."""
    tasks = list(tasks)
    nodes = load_nodes(tasks)
    return {task.id: chain(nodes, task.plan_node_id) for task in tasks}
