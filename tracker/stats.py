"""Plan statistics: the one place where completion, on-time and overdue figures are computed.

Dashboards, the JSON API and the term report all read their numbers from here, so
they always agree. Every figure is a SQL aggregate (GROUP BY in the database): no
function here loads the tasks of a scope into Python. Functions take a session and a
``Scope`` and return plain dataclasses; nothing here imports Flask.

Definitions (one school or many; each school's own settings apply to its tasks):

- *Counted tasks*: a recurring measure counts its occurrences (tasks whose
  ``parent_id`` points at it) instead of itself; a task without occurrences counts
  once. Occurrences are grouped by their own plan node, owner and department (they
  are created with the measure's).
- *total* counts every counted task; *cancelled* ones are excluded from all rates
  (``active = total - cancelled``).
- *completed*: status done, and accepted where the school requires acceptance (验收);
  ``awaiting_acceptance`` is done but not yet accepted there.
- *overdue*: open (not started, in progress, blocked) and due before today in the
  school's time zone. Tasks without a due date are never overdue.
- *on time*: completed, with a due date, and the completion's local date (``completed_at``
  in the school's time zone) on or before the due date. The on-time rate divides by the
  tasks that have come due: with a due date, not cancelled, and either completed or
  past their due date. Tasks with no due date are in neither part.
- *average delay*: mean days between the due date and the local completion date of the
  tasks completed late.
- *stale*: open and no activity for the school's ``stale_after_days``.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from tracker.models import (
    OPEN_STATUSES,
    Acceptance,
    Department,
    Organization,
    Plan,
    PlanNode,
    Task,
    TaskStatus,
    Term,
    User,
)
from tracker.models.base import UTCDateTime

# ---------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class OrgInfo:
    """The settings of one school that the figures depend on."""

    id: int
    name: str
    timezone: str
    requires_acceptance: bool
    stale_after_days: int


@dataclass(frozen=True)
class Scope:
    """Which tasks the figures cover.

    ``orgs``: the schools. Tasks of a plan attached to one of ``term_ids`` are in scope,
    and so are tasks with no plan (or a plan with no term) due between ``start`` and
    ``end``. With ``plan_id`` only that plan's tasks count, whatever the term.
    ``department_id`` narrows to tasks that department leads. ``now`` (aware) fixes
    "today" and staleness, so results are reproducible.
    """

    orgs: tuple[OrgInfo, ...]
    start: date
    end: date
    now: datetime
    term_ids: tuple[int, ...] = ()
    plan_id: int | None = None
    department_id: int | None = None

    @property
    def org_ids(self) -> list[int]:
        return [o.id for o in self.orgs]

    def today(self, org: OrgInfo) -> date:
        return self.now.astimezone(ZoneInfo(org.timezone)).date()


def org_info(org: Organization) -> OrgInfo:
    return OrgInfo(id=org.id, name=org.name, timezone=org.timezone,
                   requires_acceptance=bool(org.requires_acceptance),
                   stale_after_days=org.stale_after_days)


def load_orgs(session: Session, org_ids: list[int] | None = None, *,
              parent_id: int | None = None) -> list[OrgInfo]:
    """The schools of ``org_ids`` or the children of ``parent_id``, by name (one query)."""
    stmt = select(Organization.id, Organization.name, Organization.timezone,
                  Organization.requires_acceptance, Organization.stale_after_days)
    if parent_id is not None:
        stmt = stmt.where(Organization.parent_id == parent_id)
    else:
        stmt = stmt.where(Organization.id.in_(org_ids or []))
    rows = session.execute(stmt.order_by(Organization.name, Organization.id)).all()
    return [OrgInfo(id=r.id, name=r.name, timezone=r.timezone,
                    requires_acceptance=bool(r.requires_acceptance),
                    stale_after_days=r.stale_after_days) for r in rows]


def overlapping_term_ids(session: Session, org_ids: list[int], start: date,
                         end: date) -> tuple[int, ...]:
    """Terms of these schools that overlap [start, end] (for a district's roll-up)."""
    if not org_ids:
        return ()
    rows = session.execute(select(Term.id).where(
        Term.organization_id.in_(org_ids), Term.start_date <= end, Term.end_date >= start))
    return tuple(r[0] for r in rows)


# ---------------------------------------------------------------------------- figures


@dataclass
class Counts:
    total: int = 0
    cancelled: int = 0
    not_started: int = 0
    in_progress: int = 0
    blocked: int = 0
    done: int = 0
    completed: int = 0
    awaiting_acceptance: int = 0
    overdue: int = 0
    stale: int = 0
    no_due_date: int = 0
    due_so_far: int = 0
    on_time: int = 0
    late: int = 0
    late_days: int = 0

    @property
    def active(self) -> int:
        return self.total - self.cancelled

    @property
    def open(self) -> int:
        return self.not_started + self.in_progress + self.blocked

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.active if self.active else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due_so_far if self.due_so_far else None

    @property
    def average_delay_days(self) -> float | None:
        return self.late_days / self.late if self.late else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                         for f in fields(Counts)})

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(active=self.active, open=self.open,
                    completion_rate=_round(self.completion_rate),
                    on_time_rate=_round(self.on_time_rate),
                    average_delay_days=_round(self.average_delay_days, 2))
        return data


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


COUNT_FIELDS = [f.name for f in fields(Counts)]


@dataclass
class Group:
    """Figures of one bar: a section, department, owner, plan or school."""

    key: int | None
    label: str
    counts: Counts
    position: int = 0     # plan order for sections
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.key, "label": self.label, **self.extra, **self.counts.to_dict()}


@dataclass
class Series:
    """Per day over [start, end]: completions (local date) and due dates by status."""

    start: date
    end: date
    completed: dict[date, int]
    planned: dict[date, int]
    due_by_status: dict[date, dict[str, int]]
    active_total: int
    completed_before: int = 0   # completed before the start (counted on the first day)
    planned_before: int = 0

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def cumulative(self, which: str) -> list[int]:
        per_day = getattr(self, which)
        running = getattr(self, f"{which}_before")
        out = []
        for day in self.days():
            running += per_day.get(day, 0)
            out.append(running)
        return out

    def ideal(self) -> list[float]:
        span = max((self.end - self.start).days, 1)
        return [round(self.active_total * i / span, 2) for i in range(span + 1)]

    def weekly_due(self, from_day: date) -> list[tuple[date, date, dict[str, int]]]:
        """Tasks due per week (Monday–Sunday, the first week starting at ``from_day``) to
        the end of the window, by status (cancelled left out)."""
        weeks = []
        monday = from_day - timedelta(days=from_day.weekday())
        while monday <= self.end:
            first, sunday = max(monday, from_day), min(monday + timedelta(days=6), self.end)
            counts: dict[str, int] = {}
            day = first
            while day <= sunday:
                for status, n in self.due_by_status.get(day, {}).items():
                    counts[status] = counts.get(status, 0) + n
                day += timedelta(days=1)
            weeks.append((first, sunday, counts))
            monday += timedelta(days=7)
        return weeks

    def to_dict(self) -> dict:
        days = self.days()
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "days": [d.isoformat() for d in days],
                "completed_cumulative": self.cumulative("completed"),
                "planned_cumulative": self.cumulative("planned"),
                "ideal": self.ideal(), "active_total": self.active_total}


@dataclass
class OverdueTask:
    id: int
    title: str
    organization_id: int
    due_date: date
    days_overdue: int
    status: str
    owner_id: int | None
    owner: str | None
    department_id: int | None
    department: str | None
    last_activity_at: datetime

    def to_dict(self) -> dict:
        data = asdict(self)
        data["due_date"] = self.due_date.isoformat()
        data["last_activity_at"] = self.last_activity_at.isoformat()
        return data


# ---------------------------------------------------------------------------- SQL pieces
#
# Statements are built once per *shape* (database, the schools and their settings, the
# window, which filters are used) and cached; the values that change from request to
# request (today, the staleness cut-offs, the plan, department and term ids) are bound
# parameters. Reusing the statement objects lets SQLAlchemy skip building, hashing and
# compiling them on every request.

Child = aliased(Task, name="child_task")

# The columns a task is grouped by. Occurrences carry their own copies of the measure's
# plan, plan node and owners (``tasks.services.ensure_occurrences``), so no join to the
# parent task is needed.
EFFECTIVE = {
    "plan": Task.plan_id,
    "node": Task.plan_node_id,
    "department": Task.lead_department_id,
    "owner": Task.lead_user_id,
    "org": Task.organization_id,
}


@dataclass(frozen=True)
class _Shape:
    dialect: str
    orgs: tuple[OrgInfo, ...]
    start: date
    end: date
    has_plan: bool
    has_department: bool
    has_terms: bool

    @property
    def org_ids(self) -> list[int]:
        return [o.id for o in self.orgs]

    def groups(self, attribute: str) -> dict:
        """Schools grouped by a setting, in first-seen order: {value: [ids]}."""
        groups: dict = defaultdict(list)
        for org in self.orgs:
            groups[getattr(org, attribute)].append(org.id)
        return dict(groups)


def _shape(session: Session, scope: Scope) -> _Shape:
    return _Shape(dialect=session.get_bind().dialect.name, orgs=scope.orgs, start=scope.start,
                  end=scope.end, has_plan=scope.plan_id is not None,
                  has_department=scope.department_id is not None,
                  has_terms=bool(scope.term_ids))


def _params(shape: _Shape, scope: Scope) -> dict:
    params: dict = {}
    for i, tz in enumerate(shape.groups("timezone")):
        params[f"today_{i}"] = scope.now.astimezone(ZoneInfo(tz)).date()
    for i, days in enumerate(shape.groups("stale_after_days")):
        params[f"stale_{i}"] = scope.now - timedelta(days=days)
    if shape.has_plan:
        params["plan_id"] = scope.plan_id
    if shape.has_department:
        params["department_id"] = scope.department_id
    if shape.has_terms:
        params["term_ids"] = list(scope.term_ids)
    return params


@lru_cache(maxsize=256)
def _utc_offsets(tz_name: str, start: date, end: date) -> tuple[tuple[datetime, ...],
                                                                 tuple[int, ...]]:
    """UTC instants where the zone's offset changes in [start-60d, end+60d], and offsets.

    ``offsets[i]`` applies before ``changes[i]``; the last applies after the last change.
    Zones without daylight saving (Asia/Shanghai) have no changes.
    """
    tz = ZoneInfo(tz_name)
    day = datetime.combine(start - timedelta(days=60), time(), timezone.utc)
    last = datetime.combine(end + timedelta(days=60), time(), timezone.utc)
    changes: list[datetime] = []
    offsets = [int(day.astimezone(tz).utcoffset().total_seconds())]
    while day < last:
        nxt = day + timedelta(days=1)
        offset = int(nxt.astimezone(tz).utcoffset().total_seconds())
        if offset != offsets[-1]:
            moment = day
            while int(moment.astimezone(tz).utcoffset().total_seconds()) == offsets[-1]:
                moment += timedelta(minutes=15)
            changes.append(moment)
            offsets.append(offset)
        day = nxt
    return tuple(changes), tuple(offsets)


def local_date(column, tz_name: str, dialect: str, start: date, end: date):
    """SQL: the local calendar date of a UTC timestamp column in ``tz_name``.

    PostgreSQL converts with its own time-zone database. SQLite has none: the zone's
    offsets (and daylight-saving changes near the window) are computed here and applied
    with ``date(col, '+N seconds')``.
    """
    if dialect == "postgresql":
        return cast(func.timezone(tz_name, func.timezone("UTC", column)), Task.due_date.type)
    changes, offsets = _utc_offsets(tz_name, start, end)

    def shifted(seconds: int):
        return func.date(column, f"{seconds:+d} seconds")

    if not changes:
        return shifted(offsets[0])
    return case(*((column < change, shifted(offsets[i])) for i, change in enumerate(changes)),
                else_=shifted(offsets[-1]))


def days_between(later, earlier, dialect: str):
    """SQL: whole days from ``earlier`` to ``later`` (two dates)."""
    if dialect == "postgresql":
        return later - earlier
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def _done_by_due_date(tz_name: str, shape: _Shape):
    """SQL: the completion's local date is on or before the due date.

    On SQLite, for a zone ahead of UTC without daylight saving in the window (Asia/Shanghai),
    this compares the stored UTC text with the due date's local midnight written in UTC
    ("2025-03-31" → "2025-03-31 16:00:00"): no date arithmetic per row, which SQLite does
    slowly. Elsewhere it compares local dates.
    """
    if shape.dialect == "sqlite":
        changes, offsets = _utc_offsets(tz_name, shape.start, shape.end)
        if not changes and 0 < offsets[0] < 86400 and offsets[0] % 60 == 0:
            until = 86400 - offsets[0]
            midnight = f" {until // 3600:02d}:{until % 3600 // 60:02d}:00"
            return Task.completed_at < Task.due_date.op("||")(literal(midnight))
    done_day = local_date(Task.completed_at, tz_name, shape.dialect, shape.start, shape.end)
    return done_day <= Task.due_date


def _org_in(ids: list[int], shape: _Shape):
    return true() if len(ids) == len(shape.orgs) else Task.organization_id.in_(ids)


@lru_cache(maxsize=128)
def _conditions(shape: _Shape) -> dict:
    """Named boolean SQL conditions over Task, honouring each school's settings."""
    is_open = Task.status.in_(OPEN_STATUSES)
    done = Task.status == TaskStatus.done

    accept_ids = [o.id for o in shape.orgs if o.requires_acceptance]
    if not accept_ids:
        completed = done
    else:
        completed = and_(done, or_(Task.acceptance == Acceptance.accepted,
                                   ~_org_in(accept_ids, shape)))

    zones = shape.groups("timezone")
    overdue_due = or_(*(and_(_org_in(ids, shape),
                             Task.due_date < bindparam(f"today_{i}", type_=Date()))
                        for i, ids in enumerate(zones.values()))) if zones else false()
    overdue = and_(is_open, Task.due_date.is_not(None), overdue_due)

    stale_groups = shape.groups("stale_after_days")
    stale = and_(is_open, or_(*(
        and_(_org_in(ids, shape),
             Task.last_activity_at < bindparam(f"stale_{i}", type_=UTCDateTime()))
        for i, ids in enumerate(stale_groups.values())))) if stale_groups else false()

    if len(zones) <= 1:
        done_day = local_date(Task.completed_at, next(iter(zones), "UTC"), shape.dialect,
                              shape.start, shape.end)
    else:
        done_day = case(*((Task.organization_id.in_(ids),
                           local_date(Task.completed_at, tz, shape.dialect, shape.start,
                                      shape.end))
                          for tz, ids in zones.items()))
    has_due = Task.due_date.is_not(None)
    finished = and_(completed, has_due, Task.completed_at.is_not(None))
    in_time = or_(*(and_(_org_in(ids, shape), _done_by_due_date(tz, shape))
                    for tz, ids in zones.items())) if zones else false()
    return {
        "cancelled": Task.status == TaskStatus.cancelled,
        "not_started": Task.status == TaskStatus.not_started,
        "in_progress": Task.status == TaskStatus.in_progress,
        "blocked": Task.status == TaskStatus.blocked,
        "done": done,
        "completed": completed,
        "awaiting_acceptance": and_(done, ~completed),
        "overdue": overdue,
        "stale": stale,
        "no_due_date": and_(Task.status != TaskStatus.cancelled, Task.due_date.is_(None)),
        "due_so_far": and_(Task.status != TaskStatus.cancelled, has_due,
                           or_(completed, overdue_due)),
        "on_time": and_(finished, in_time),
        "late": and_(finished, ~in_time),
        "_done_day": done_day,
    }


def _counted(stmt, shape: _Shape):
    """Keep the counted tasks of the scope (a measure with occurrences counts them instead)."""
    stmt = (stmt.select_from(Task)
            .where(Task.organization_id.in_(shape.org_ids),
                   ~exists().where(Child.parent_id == Task.id)))
    if shape.has_plan:
        stmt = stmt.where(EFFECTIVE["plan"] == bindparam("plan_id", type_=Integer()))
    else:
        stmt = stmt.outerjoin(Plan, Plan.id == EFFECTIVE["plan"])
        in_window = and_(Plan.term_id.is_(None), Task.due_date.is_not(None),
                         Task.due_date >= shape.start, Task.due_date <= shape.end)
        stmt = stmt.where(or_(Plan.term_id.in_(bindparam("term_ids", expanding=True)),
                              in_window) if shape.has_terms else in_window)
    if shape.has_department:
        stmt = stmt.where(EFFECTIVE["department"] ==
                          bindparam("department_id", type_=Integer()))
    return stmt


@lru_cache(maxsize=128)
def _aggregates(shape: _Shape) -> tuple:
    cond = _conditions(shape)
    one = literal(1)
    columns = [func.count().label("total")]
    for name in COUNT_FIELDS[1:]:
        if name == "late_days":
            delay = days_between(cond["_done_day"], Task.due_date, shape.dialect)
            columns.append(func.coalesce(func.sum(case((cond["late"], delay), else_=0)), 0)
                           .label(name))
        else:
            columns.append(func.coalesce(func.sum(case((cond[name], one), else_=0)), 0)
                           .label(name))
    return tuple(columns)


def _row_counts(row) -> Counts:
    return Counts(**{name: int(getattr(row, name) or 0) for name in COUNT_FIELDS})


NAMES = {"department": (Department, "name"), "owner": (User, "name"), "plan": (Plan, "title")}


@lru_cache(maxsize=256)
def _grouped_stmt(shape: _Shape, by: str | None, named: bool):
    columns = _aggregates(shape)
    if by is None:
        return _counted(select(*columns), shape)
    key = EFFECTIVE[by].label("key")
    if not named:
        return _counted(select(key, *columns), shape).group_by(key)
    model, attribute = NAMES[by]
    named_model = aliased(model, name=f"named_{by}")
    name = getattr(named_model, attribute).label("name")
    return (_counted(select(key, name, *columns), shape)
            .outerjoin(named_model, named_model.id == EFFECTIVE[by])
            .group_by(key, name))


def _grouped(session: Session, scope: Scope, by: str | None, named: bool = False) -> dict:
    """key → (name, Counts); with ``named`` the key's name is joined in the same query."""
    if not scope.orgs:
        return {}
    shape = _shape(session, scope)
    rows = session.execute(_grouped_stmt(shape, by, named), _params(shape, scope))
    if by is None:
        return {None: ("", _row_counts(rows.one()))}
    return {row.key: (getattr(row, "name", "") or "", _row_counts(row)) for row in rows}


def grouped_counts(session: Session, scope: Scope, by: str | None) -> dict:
    """Counts per value of ``by`` (plan, node, department, owner, org), or {None: totals}."""
    return {key: counts for key, (_name, counts) in _grouped(session, scope, by).items()}


def totals(session: Session, scope: Scope) -> Counts:
    return grouped_counts(session, scope, None).get(None, Counts())


def sum_counts(groups) -> Counts:
    total = Counts()
    for counts in groups:
        total = total + counts
    return total


# ---------------------------------------------------------------------------- breakdowns


def node_label(label: str, heading: str, limit: int = 24) -> str:
    """A section as printed: "一、教学工作" (long headings shortened)."""
    heading = (heading or "").strip().splitlines()[0] if (heading or "").strip() else ""
    text = f"{label}{heading}".strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def by_section(session: Session, scope: Scope, plan_id: int,
               node_counts: dict | None = None) -> list[Group]:
    """Counts per top-level section of a plan, in plan order.

    A task's section is the top ancestor of its plan node. The plan's nodes are few
    (hundreds) and are read in one query; the tasks are aggregated per node in SQL and
    the per-node figures are summed up the tree here. Tasks outside any section (no
    plan node) form a last group with key None.
    """
    if node_counts is None:
        node_counts = grouped_counts(session, scope, "node")
    nodes = session.execute(
        select(PlanNode.id, PlanNode.parent_id, PlanNode.position, PlanNode.label,
               PlanNode.heading, PlanNode.text)
        .where(PlanNode.plan_id == plan_id).order_by(PlanNode.position)).all()
    parent_of = {n.id: n.parent_id for n in nodes}

    def top(node_id: int) -> int:
        seen = 0
        while parent_of.get(node_id) is not None and seen < 64:
            node_id = parent_of[node_id]
            seen += 1
        return node_id

    sections: dict[int, Group] = {}
    for n in nodes:
        if n.parent_id is None:
            sections[n.id] = Group(key=n.id, label=node_label(n.label, n.heading or n.text),
                                   counts=Counts(), position=n.position)
    rest = Counts()
    for node_id, counts in node_counts.items():
        section = sections.get(top(node_id)) if node_id in parent_of else None
        if section is None:
            rest = rest + counts
        else:
            section.counts = section.counts + counts
    result = [g for g in sorted(sections.values(), key=lambda g: g.position) if g.counts.total]
    if rest.total:
        result.append(Group(key=None, label="", counts=rest, position=1 << 30))
    return result


def _named_groups(session: Session, scope: Scope, by: str) -> list[Group]:
    return [Group(key=key, label=name, counts=counts)
            for key, (name, counts) in _grouped(session, scope, by, named=True).items()]


def by_department(session: Session, scope: Scope) -> list[Group]:
    """Counts per lead department (key None: no department), with names (one query)."""
    return _named_groups(session, scope, "department")


def by_owner(session: Session, scope: Scope) -> list[Group]:
    """Counts per lead person (key None: nobody), with names (one query)."""
    return _named_groups(session, scope, "owner")


def by_plan(session: Session, scope: Scope) -> list[Group]:
    """Counts per plan (key None: tasks outside any plan), with titles (one query)."""
    return _named_groups(session, scope, "plan")


def by_org(session: Session, scope: Scope) -> list[Group]:
    """Counts per school; every school of the scope appears, with zeros if it has no tasks."""
    counts = grouped_counts(session, scope, "org")
    return [Group(key=o.id, label=o.name, counts=counts.get(o.id, Counts()))
            for o in scope.orgs]


def worst_first(groups: list[Group], limit: int | None = None) -> list[Group]:
    """Lowest completion rate first; more overdue breaks ties. Groups with nothing to
    complete (all cancelled) come last."""
    def key(g: Group):
        rate = g.counts.completion_rate
        return (rate is None, rate if rate is not None else 0, -g.counts.overdue, g.label)
    ordered = sorted(groups, key=key)
    return ordered[:limit] if limit else ordered


# ---------------------------------------------------------------------------- time series


@lru_cache(maxsize=128)
def _series_stmts(shape: _Shape) -> tuple:
    cond = _conditions(shape)
    done_day = cond["_done_day"].label("day")
    done = (_counted(select(done_day, func.count().label("n")), shape)
            .where(cond["completed"], Task.completed_at.is_not(None)).group_by(done_day))
    due = (_counted(select(Task.due_date.label("day"), Task.status.label("status"),
                           func.count().label("n")), shape)
           .where(Task.status != TaskStatus.cancelled, Task.due_date.is_not(None))
           .group_by(Task.due_date, Task.status))
    return done, due


def completion_series(session: Session, scope: Scope, active_total: int | None = None) -> Series:
    """Completions per local day and due dates per day and status over the scope's window
    (2 queries). Cancelled tasks are left out of both; the ideal line runs from 0 on the
    first day to every active task on the last."""
    series = Series(start=scope.start, end=scope.end, completed={}, planned={},
                    due_by_status={}, active_total=active_total or 0)
    if not scope.orgs:
        return series
    shape = _shape(session, scope)
    params = _params(shape, scope)
    done_stmt, due_stmt = _series_stmts(shape)
    for row in session.execute(done_stmt, params):
        day = _as_date(row.day)
        if day < scope.start:
            series.completed_before += row.n
        elif day <= scope.end:
            series.completed[day] = series.completed.get(day, 0) + row.n
    for row in session.execute(due_stmt, params):
        day = _as_date(row.day)
        if day < scope.start:
            series.planned_before += row.n
        elif day <= scope.end:
            series.planned[day] = series.planned.get(day, 0) + row.n
            series.due_by_status.setdefault(day, {})[TaskStatus(row.status).value] = row.n
    if active_total is None:
        series.active_total = totals(session, scope).active
    return series


def week_starts(start: date, end: date) -> list[date]:
    """The first day of each week of the window: start, start + 7 days, …"""
    return [start + timedelta(days=7 * i) for i in range((end - start).days // 7 + 1)]


def _week_bucket(shape: _Shape):
    """SQL: the window week (0, 1, …) of each task's completion, by comparing the UTC
    timestamp with each week's first local midnight in the school's zone — plain
    comparisons, no date arithmetic per row. Earlier completions fall in week 0, later
    ones in the last week."""
    starts = week_starts(shape.start, shape.end)[1:]
    branches = []
    for tz, ids in shape.groups("timezone").items():
        zone = ZoneInfo(tz)
        bounds = [datetime.combine(day, time(), zone).astimezone(timezone.utc)
                  for day in starts]
        bucket = case(*((Task.completed_at < bound, literal(i))
                        for i, bound in enumerate(bounds)), else_=literal(len(bounds))) \
            if bounds else literal(0)
        branches.append((_org_in(ids, shape), bucket))
    if len(branches) == 1:
        return branches[0][1]
    return case(*branches)


@lru_cache(maxsize=128)
def _org_week_stmt(shape: _Shape):
    """Completions per school and window week: only completed tasks, one count each."""
    cond = _conditions(shape)
    week = _week_bucket(shape).label("week")
    org = Task.organization_id.label("key")
    return (_counted(select(org, week, func.count().label("n")), shape)
            .where(cond["completed"], Task.completed_at.is_not(None)).group_by(org, week))


def by_org_and_week(session: Session, scope: Scope) -> tuple[list[Group], dict[int, list[int]]]:
    """Counts per school and, per school, completions in each week of the window (see
    ``week_starts``): two queries, the counts grouped by school and the completions by
    school and week. (One query grouped by both cost half as much again on the district
    data set: every aggregate was computed per school and week.)"""
    if not scope.orgs:
        return [], {}
    shape = _shape(session, scope)
    weeks = len(week_starts(scope.start, scope.end))
    weekly = {o.id: [0] * weeks for o in scope.orgs}
    for row in session.execute(_org_week_stmt(shape), _params(shape, scope)):
        weekly[row.key][min(int(row.week), weeks - 1)] += row.n
    return by_org(session, scope), weekly


def weekly_completed_by_org(session: Session, scope: Scope) -> dict[int, list[int]]:
    """Per school, tasks completed in each week of the window."""
    return by_org_and_week(session, scope)[1]


@lru_cache(maxsize=128)
def _due_stmt(shape: _Shape):
    return _series_stmts(shape)[1]


def due_series(session: Session, scope: Scope, active_total: int,
               completed_weekly: list[int] | None = None) -> Series:
    """Due dates per day and status (one query); completions, when given per week, are
    placed on each week's first day (the district's burn-up)."""
    series = Series(start=scope.start, end=scope.end, completed={}, planned={},
                    due_by_status={}, active_total=active_total)
    if not scope.orgs:
        return series
    shape = _shape(session, scope)
    for row in session.execute(_due_stmt(shape), _params(shape, scope)):
        day = _as_date(row.day)
        if day < scope.start:
            series.planned_before += row.n
        elif day <= scope.end:
            series.planned[day] = series.planned.get(day, 0) + row.n
            series.due_by_status.setdefault(day, {})[TaskStatus(row.status).value] = row.n
    for day, n in zip(week_starts(scope.start, scope.end), completed_weekly or [], strict=False):
        if n:
            series.completed[day] = n
    return series


def _as_date(value) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------------------- lists


@lru_cache(maxsize=128)
def _overdue_stmt(shape: _Shape, limit: int):
    """The ``limit`` most overdue tasks first, then their owners' names (so only those
    few rows are joined)."""
    cond = _conditions(shape)
    top = (_counted(select(Task.id, Task.title, Task.organization_id, Task.due_date,
                           Task.status, Task.last_activity_at, Task.lead_user_id,
                           Task.lead_department_id), shape)
           .where(cond["overdue"]).order_by(Task.due_date, Task.id).limit(limit)
           .subquery("top"))
    owner = aliased(User, name="owner")
    dept = aliased(Department, name="dept")
    return (select(top, owner.name.label("owner"), dept.name.label("department"))
            .outerjoin(owner, owner.id == top.c.lead_user_id)
            .outerjoin(dept, dept.id == top.c.lead_department_id)
            .order_by(top.c.due_date, top.c.id))


def overdue_tasks(session: Session, scope: Scope, limit: int = 50) -> list[OverdueTask]:
    """The most overdue counted tasks, oldest due date first (their number is
    ``Counts.overdue``)."""
    if not scope.orgs:
        return []
    shape = _shape(session, scope)
    rows = session.execute(_overdue_stmt(shape, limit), _params(shape, scope)).all()
    todays = {o.id: scope.today(o) for o in scope.orgs}
    return [OverdueTask(id=r.id, title=r.title, organization_id=r.organization_id,
                        due_date=r.due_date,
                        days_overdue=(todays[r.organization_id] - r.due_date).days,
                        status=TaskStatus(r.status).value, owner_id=r.lead_user_id,
                        owner=r.owner, department_id=r.lead_department_id,
                        department=r.department, last_activity_at=r.last_activity_at)
            for r in rows]
