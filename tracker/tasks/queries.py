"""Selects for task pages; each returns a ``Select`` the caller can page or count."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, and_, bindparam, case, func, literal_column, or_, select
from sqlalchemy.orm import aliased, selectinload

from tracker import policy
from tracker.extensions import db
from tracker.models import (
    OPEN_STATUSES,
    Acceptance,
    Department,
    Plan,
    PlanNode,
    Recurrence,
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


@dataclass(slots=True)
class TaskCard:
    """What a card on "my tasks" or a row of the task list shows of one task.

    Read as columns with the lead owner's names joined, not as ORM objects: building fifty
    ``Task`` objects and then loading their owners through relationships cost more than
    rendering the page. Has the attributes the policy checks read (organization, lead
    owner, lead department), so ``policy.can_update_task`` works on it unchanged."""

    id: int
    organization_id: int
    parent_id: int | None
    plan_id: int | None
    plan_node_id: int | None
    title: str
    status: TaskStatus
    acceptance: Acceptance
    progress: int
    due_date: date | None
    recurrence: Recurrence | None
    last_activity_at: datetime
    version: int
    lead_user_id: int | None
    lead_department_id: int | None
    lead_user_name: str | None
    lead_department_name: str | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_date is not None and self.due_date < today


_CARD_COLUMNS = (Task.id, Task.organization_id, Task.parent_id, Task.plan_id, Task.plan_node_id,
                 Task.title, Task.status, Task.acceptance, Task.progress, Task.due_date,
                 Task.recurrence, Task.last_activity_at, Task.version, Task.lead_user_id,
                 Task.lead_department_id)
# The lead owner's names as scalar subqueries: one primary-key lookup per card. (As
# outer joins, PostgreSQL's planner sometimes hashed all 10,000 users of a district for
# the fourteen cards of "my tasks", 3 ms.) Aliased: the filters may name users and
# departments in their own right.
_LEAD_USER, _LEAD_DEPARTMENT = aliased(User, name="lead_user"), aliased(Department,
                                                                        name="lead_department")
_CARD_SELECT = (
    *_CARD_COLUMNS,
    select(_LEAD_USER.name).where(_LEAD_USER.id == Task.lead_user_id)
    .scalar_subquery().label("lead_user_name"),
    select(_LEAD_DEPARTMENT.name).where(_LEAD_DEPARTMENT.id == Task.lead_department_id)
    .scalar_subquery().label("lead_department_name"),
)


_CARD_FIELDS = len(_CARD_SELECT)  # a row's first fields are a card; extra columns follow


def _as_cards(stmt: Select) -> Select:
    """A ``select(Task)`` (filters, order, limit kept) as a select of card columns."""
    return stmt.with_only_columns(*_CARD_SELECT, maintain_column_froms=False)


def cards(stmt: Select) -> list[TaskCard]:
    """Run a ``select(Task)`` for its cards: one statement, plain rows (Core, no ORM)."""
    return [TaskCard(*row) for row in db.session.connection().execute(_as_cards(stmt))]


class CardPage(Pagination):
    """A page of a ``select(Task)`` read straight as cards (one statement for the page,
    one for the count), for the pager in ``_partials/pager.html``. Flask-SQLAlchemy's
    own ``paginate`` reads ORM objects or a single column; paging over ids and then
    reading their cards took a statement more.

    Built on the subclass hooks ``Pagination`` documents (``_query_items``,
    ``_query_count``, ``_query_args``, ``_query_offset``), which its docs do not promise
    to keep: Flask-SQLAlchemy is pinned (requirements.txt), and tests/test_task_work.py
    pages the list, so an upgrade that changes them fails the suite."""

    def _query_items(self) -> list[TaskCard]:
        return cards(self._query_args["select"].limit(self.per_page).offset(self._query_offset))

    def _query_count(self) -> int:
        ids = self._query_args["select"].with_only_columns(Task.id).order_by(None).subquery()
        return db.session.connection().execute(
            select(func.count()).select_from(ids)).scalar_one()


def cards_by_id(ids: list[int]) -> list[TaskCard]:
    """Cards for these task ids, in the order given (the caller checked visibility)."""
    if not ids:
        return []
    found = {card.id: card for card in cards(select(Task).where(Task.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def my_tasks(user: User) -> tuple[Select, Select]:
    """(tasks I lead, tasks I support): top-level tasks, soonest due first."""
    params = policy.viewer_params(user)
    return tuple(stmt.params(**params)
                 for stmt in _my_task_rules(policy.is_leader(user)))  # type: ignore[return-value]


def my_cards(user: User) -> tuple[list[TaskCard], list[TaskCard]]:
    """``my_tasks`` as cards, read in one statement (built once per process, bound per
    request) that marks which of them I lead."""
    leading: list[TaskCard] = []
    supporting: list[TaskCard] = []
    for row in db.session.connection().execute(_my_cards_rule(policy.is_leader(user)),
                                               policy.viewer_params(user)):
        (leading if row.i_lead else supporting).append(TaskCard(*row[:_CARD_FIELDS]))
    return leading, supporting


@cache
def _my_task_rules(leader: bool) -> tuple[Select, Select]:
    base, leads, supports, order = _my_task_parts(leader)
    return (base.where(leads).order_by(*order),
            base.where(~leads, supports).order_by(*order))


@cache
def _my_cards_rule(leader: bool) -> Select:
    """Both lists of ``_my_task_rules`` as card rows in one statement, each row marked
    ``i_lead`` (one round trip fewer for the page everyone opens)."""
    base, leads, supports, order = _my_task_parts(leader)
    return (_as_cards(base.where(or_(leads, supports)).order_by(*order))
            .add_columns(leads.label("i_lead")))


def _my_task_parts(leader: bool):
    """(top-level tasks I may see, "I lead it", "I support it", order) for my tasks."""
    viewer = bindparam("viewer_id")
    mine = select(user_departments.c.department_id).where(user_departments.c.user_id == viewer)
    base = (policy.visible_tasks_rule(leader).where(Task.parent_id.is_(None))
            .options(*LIST_LOAD))
    # Written so that it is never NULL (a NULL would make ``~leads`` drop unassigned tasks
    # I support) and so that the database can use the lead-user index.
    leads = or_(func.coalesce(Task.lead_user_id, 0) == viewer,
                and_(func.coalesce(Task.lead_user_id, 0) == 0,
                     func.coalesce(Task.lead_department_id, 0).in_(mine)))
    supports = or_(
        Task.id.in_(select(task_supporting_users.c.task_id)
                    .where(task_supporting_users.c.user_id == viewer)),
        Task.id.in_(select(task_supporting_departments.c.task_id)
                    .where(task_supporting_departments.c.department_id.in_(mine))))
    order = (Task.due_date.is_(None), Task.due_date, Task.id)
    return base, leads, supports, order


def group_by_urgency(tasks: list, today: date) -> dict[str, list]:
    week_end = today + timedelta(days=6 - today.weekday())
    groups: dict[str, list] = {"overdue": [], "this_week": [], "later": [], "done": []}
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


_ORG = bindparam("org_id")
_FILTER_CHOICES = (
    select(Plan.id, Plan.title).where(Plan.organization_id == _ORG)
    .order_by(Plan.created_at.desc()),
    select(User.id, User.name).where(User.organization_id == _ORG, User.active.is_(True))
    .order_by(User.name),
    select(Department.id, Department.name).where(Department.organization_id == _ORG)
    .order_by(Department.name),
)


def filter_choices(org_id: int) -> tuple[list, list, list]:
    """(plans, active people, departments) of an organisation as (id, name) rows: what the
    task list's filters and bulk action offer (not a hundred ORM objects)."""
    connection = db.session.connection()
    return tuple(connection.execute(stmt, {"org_id": org_id}).all()  # type: ignore[return-value]
                 for stmt in _FILTER_CHOICES)


def section_node_ids(section_id: int) -> Select:
    """The node and all its descendants (recursive CTE: works on SQLite and PostgreSQL)."""
    tree = select(PlanNode.id).where(PlanNode.id == section_id).cte("tree", recursive=True)
    child = aliased(PlanNode)
    tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id))
    return select(tree.c.id)


def task_list(user: User, *, filters: dict, today: date, now: datetime | None = None,
              stale_after_days: int = 14) -> Select:
    stmt = policy.visible_tasks(user).where(Task.parent_id.is_(None)).options(*LIST_LOAD)
    if filters.get("plan"):
        stmt = stmt.where(Task.plan_id == filters["plan"])
    if filters.get("section"):
        stmt = stmt.where(Task.plan_node_id.in_(section_node_ids(filters["section"])))
    if filters.get("department"):
        stmt = stmt.where(Task.lead_department_id == filters["department"])
    if filters.get("owner"):
        stmt = stmt.where(Task.lead_user_id == filters["owner"])
    if filters.get("status"):
        stmt = stmt.where(Task.status == TaskStatus(filters["status"]))
    if filters.get("overdue"):
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES), Task.due_date < today)
    if filters.get("stale") and now is not None:
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES),
                          Task.last_activity_at < now - timedelta(days=stale_after_days))
    if filters.get("due_from"):
        stmt = stmt.where(Task.due_date >= filters["due_from"])
    if filters.get("due_to"):
        stmt = stmt.where(Task.due_date <= filters["due_to"])
    if filters.get("q"):
        stmt = stmt.where(Task.title.contains(filters["q"]))
    return stmt.order_by(*SORTS.get(filters.get("sort") or "due", SORTS["due"]))


def _ancestor_labels() -> Select:
    """(leaf id, label) of every node from each given measure up to its top section,
    top first (recursive CTE, works on SQLite and PostgreSQL); built once, bound per call."""
    up = (select(PlanNode.id.label("leaf"), PlanNode.parent_id.label("parent_id"),
                 PlanNode.label.label("label"), literal_column("0").label("depth"))
          .where(PlanNode.id.in_(bindparam("node_ids", expanding=True)))
          .cte("up", recursive=True))
    parent = aliased(PlanNode)
    # The depth limit ends a cycle in damaged data (plans are a few levels deep; the
    # parser numbers at most four).
    up = up.union_all(select(up.c.leaf, parent.parent_id, parent.label, up.c.depth + 1)
                      .where(parent.id == up.c.parent_id, up.c.depth < 20))
    return select(up.c.leaf, up.c.label).order_by(up.c.leaf, up.c.depth.desc())


_ANCESTOR_LABELS = _ancestor_labels()


def plan_paths(tasks: list) -> dict[int, str]:
    """Printed numbers of each task's measure, e.g. "三、（一）1.", keyed by plan node id.

    Reads only the labels on the way up from the measures shown (not whole ORM objects,
    nor every node of their plans: both showed in profiles of the list pages)."""
    node_ids = {t.plan_node_id for t in tasks if t.plan_node_id is not None}
    if not node_ids:
        return {}
    labels: dict[int, list[str]] = defaultdict(list)
    for leaf, label in db.session.connection().execute(_ANCESTOR_LABELS,
                                                       {"node_ids": sorted(node_ids)}):
        labels[leaf].append(label)
    return {node_id: "".join(parts) for node_id, parts in labels.items()}


def _occurrence_overview() -> Select:
    """Per recurring measure (``parent_ids``), in one statement: its earliest open
    occurrence as a card row (dated before undated, then by id; a done or cancelled one
    when none is open) with the measure's done and total (not cancelled) counts."""
    is_open = Task.status.in_(OPEN_STATUSES)
    partition = {"partition_by": Task.parent_id}
    first = func.row_number().over(
        **partition, order_by=(case((is_open, 0), else_=1), Task.due_date.is_(None),
                               Task.due_date, Task.id))
    done = func.sum(case((Task.status == TaskStatus.done, 1), else_=0)).over(**partition)
    total = func.sum(case((Task.status == TaskStatus.cancelled, 0), else_=1)).over(**partition)
    ranked = (select(*_CARD_SELECT, first.label("rank"), done.label("done_count"),
                     total.label("total_count"))
              .where(Task.parent_id.in_(bindparam("parent_ids", expanding=True)))
              .subquery("ranked"))
    return select(ranked).where(ranked.c.rank == 1)


_OCCURRENCE_OVERVIEW = _occurrence_overview()


def occurrence_overview(tasks: list) -> tuple[dict[int, TaskCard], dict[int, tuple[int, int]]]:
    """For the recurring tasks among ``tasks``: (measure id → its earliest open
    occurrence, measure id → (done, total excluding cancelled)) — one query for all."""
    ids = [t.id for t in tasks if t.recurrence is not None]
    if not ids:
        return {}, {}
    upcoming: dict[int, TaskCard] = {}
    counts: dict[int, tuple[int, int]] = {}
    for row in db.session.connection().execute(_OCCURRENCE_OVERVIEW, {"parent_ids": ids}):
        occurrence = TaskCard(*row[:_CARD_FIELDS])
        if occurrence.is_open:
            upcoming[occurrence.parent_id] = occurrence
        if row.total_count:  # all cancelled: no count to show
            counts[occurrence.parent_id] = (int(row.done_count), int(row.total_count))
    return upcoming, counts
