"""What a dashboard shows, as plain data: the school and district views.

The HTML dashboard and ``GET /api/v1/stats`` both call these functions, so they
always show the same figures. Every figure comes from ``tracker.stats``; this module
only chooses the scope (term, plan, department) and puts the pieces together. The
number of queries does not depend on the number of tasks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker import stats
from tracker.calendar import default_term
from tracker.models import Department, Organization, Plan, Term

OWNER_LIMIT = 10
OVERDUE_LIMIT = 20
SCHOOL_TREND_LIMIT = 5


class NotFound(LookupError):
    """A filter names a term, plan or department the organisation does not have."""


@dataclass
class Choice:
    id: int
    label: str


@dataclass
class Window:
    """The term the dashboard covers (a stored term, or the default calendar's dates)."""

    term_id: int | None
    name: str
    start: date
    end: date


@dataclass
class SchoolDashboard:
    org: stats.OrgInfo
    window: Window
    scope: stats.Scope
    plan_id: int | None
    section_plan_id: int | None     # the plan whose sections are charted
    department_id: int | None
    terms: list[Choice]
    plans: list[Choice]
    departments: list[Choice]
    totals: stats.Counts
    sections: list[stats.Group]
    by_plan: list[stats.Group]
    departments_stats: list[stats.Group]
    owners: list[stats.Group]       # worst ten first
    series: stats.Series
    overdue: list[stats.OverdueTask]
    overdue_total: int

    @property
    def today(self) -> date:
        return self.scope.today(self.org)

    @property
    def deadlines_from(self) -> date:
        """Deadlines are charted for the rest of the term (all of it before it starts)."""
        return max(self.today, self.window.start)

    def to_dict(self) -> dict:
        return {
            "organization": {"id": self.org.id, "name": self.org.name, "kind": "school",
                             "timezone": self.org.timezone,
                             "requires_acceptance": self.org.requires_acceptance,
                             "stale_after_days": self.org.stale_after_days},
            "today": self.today.isoformat(),
            "term": _window_dict(self.window),
            "filters": {"plan": self.plan_id, "department": self.department_id,
                        "term": self.window.term_id},
            "totals": self.totals.to_dict(),
            "sections": [dict(g.to_dict(), plan_id=self.section_plan_id) for g in self.sections],
            "plans": [g.to_dict() for g in self.by_plan],
            "departments": [g.to_dict() for g in self.departments_stats],
            "owners": [g.to_dict() for g in self.owners],
            "series": self.series.to_dict(),
            "deadlines_per_week": [
                {"from": a.isoformat(), "to": b.isoformat(), "by_status": counts,
                 "total": sum(counts.values())}
                for a, b, counts in self.series.weekly_due(self.deadlines_from)],
            "overdue": {"total": self.overdue_total,
                        "tasks": [t.to_dict() for t in self.overdue]},
        }


@dataclass
class DistrictDashboard:
    org: stats.OrgInfo
    window: Window
    scope: stats.Scope
    terms: list[Choice]
    totals: stats.Counts
    schools: list[stats.Group]          # by name
    series: stats.Series
    weekly: dict[int, list[int]]        # school id → completions per week
    overdue: list[stats.OverdueTask]
    overdue_total: int
    school_names: dict[int, str] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.scope.now.astimezone(_zone(self.org.timezone)).date()

    def ranking(self) -> list[stats.Group]:
        """Best completion first (the reverse of ``worst_first``)."""
        return list(reversed(stats.worst_first(
            [g for g in self.schools if g.counts.completion_rate is not None])))

    def to_dict(self) -> dict:
        return {
            "organization": {"id": self.org.id, "name": self.org.name, "kind": "district",
                             "timezone": self.org.timezone},
            "today": self.today.isoformat(),
            "term": _window_dict(self.window),
            "filters": {"term": self.window.term_id},
            "totals": self.totals.to_dict(),
            "schools": [dict(g.to_dict(), weekly_completed=self.weekly.get(g.key, []))
                        for g in self.schools],
            "ranking": [g.key for g in self.ranking()],
            "series": self.series.to_dict(),
            "overdue": {"total": self.overdue_total,
                        "tasks": [dict(t.to_dict(),
                                       school=self.school_names.get(t.organization_id))
                                  for t in self.overdue]},
        }


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _window_dict(window: Window) -> dict:
    return {"id": window.term_id, "name": window.name, "start": window.start.isoformat(),
            "end": window.end.isoformat()}


def _terms(session: Session, org_id: int) -> list[Term]:
    return list(session.execute(select(Term).where(Term.organization_id == org_id)
                                .order_by(Term.start_date.desc())).scalars())


def choose_window(terms: list[Term], term_id: int | None, today: date) -> Window:
    """The asked-for term, else the one containing today, else the latest, else the
    default calendar's term around today."""
    if term_id is not None:
        for term in terms:
            if term.id == term_id:
                return Window(term.id, term.name, term.start_date, term.end_date)
        raise NotFound("term")
    for term in terms:
        if term.contains(today):
            return Window(term.id, term.name, term.start_date, term.end_date)
    if terms:
        term = terms[0]
        return Window(term.id, term.name, term.start_date, term.end_date)
    dates = default_term(today)
    return Window(None, dates.name, dates.start, dates.end)


def school_dashboard(session: Session, org: Organization, *, now: datetime,
                     term_id: int | None = None, plan_id: int | None = None,
                     department_id: int | None = None) -> SchoolDashboard:
    info = stats.org_info(org)
    today = now.astimezone(_zone(org.timezone)).date()
    terms = _terms(session, org.id)
    plans_all = list(session.execute(
        select(Plan.id, Plan.title, Plan.term_id).where(Plan.organization_id == org.id)
        .order_by(Plan.created_at.desc(), Plan.id.desc())).all())
    plan = None
    if plan_id is not None:
        plan = next((p for p in plans_all if p.id == plan_id), None)
        if plan is None:
            raise NotFound("plan")
        if term_id is None and plan.term_id is not None:
            term_id = plan.term_id
    window = choose_window(terms, term_id, today)
    departments = [Choice(d.id, d.name) for d in session.execute(
        select(Department.id, Department.name).where(Department.organization_id == org.id)
        .order_by(Department.name)).all()]
    if department_id is not None and department_id not in {d.id for d in departments}:
        raise NotFound("department")
    term_plans = [p for p in plans_all if window.term_id is not None and
                  p.term_id == window.term_id]
    scope = stats.Scope(orgs=(info,), start=window.start, end=window.end, now=now,
                        term_ids=(window.term_id,) if window.term_id else (),
                        plan_id=plan_id, department_id=department_id)

    node_counts = stats.grouped_counts(session, scope, "node")
    totals = stats.sum_counts(node_counts.values())
    section_plan_id = plan_id if plan_id is not None else (
        term_plans[0].id if len(term_plans) == 1 else None)
    sections = (stats.by_section(session, scope, section_plan_id, node_counts)
                if section_plan_id is not None else [])
    by_plan = stats.by_plan(session, scope) if section_plan_id is None else []
    series = stats.completion_series(session, scope, active_total=totals.active)
    overdue = stats.overdue_tasks(session, scope, OVERDUE_LIMIT)
    owners = [g for g in stats.by_owner(session, scope) if g.key is not None]
    return SchoolDashboard(
        org=info, window=window, scope=scope, plan_id=plan_id,
        section_plan_id=section_plan_id, department_id=department_id,
        terms=[Choice(t.id, t.name) for t in terms],
        plans=[Choice(p.id, p.title) for p in (term_plans or plans_all)],
        departments=departments, totals=totals, sections=sections, by_plan=by_plan,
        departments_stats=stats.worst_first(
            [g for g in stats.by_department(session, scope) if g.key is not None]),
        owners=stats.worst_first(owners, OWNER_LIMIT), series=series,
        overdue=overdue, overdue_total=totals.overdue)


def district_dashboard(session: Session, district: Organization, *, now: datetime,
                       term_id: int | None = None) -> DistrictDashboard:
    info = stats.org_info(district)
    today = now.astimezone(_zone(district.timezone)).date()
    terms = _terms(session, district.id)
    window = choose_window(terms, term_id, today)
    schools = stats.load_orgs(session, parent_id=district.id)
    term_ids = stats.overlapping_term_ids(session, [s.id for s in schools],
                                          window.start, window.end)
    scope = stats.Scope(orgs=tuple(schools), start=window.start, end=window.end, now=now,
                        term_ids=term_ids)
    by_school, weekly = stats.by_org_and_week(session, scope)
    totals = stats.sum_counts(g.counts for g in by_school)
    district_weekly = [sum(week) for week in zip(*weekly.values(), strict=True)] if weekly else []
    # The district's burn-up counts completions per week (from the same query as the
    # schools' figures) and due dates per day.
    series = stats.due_series(session, scope, totals.active, district_weekly)
    overdue = stats.overdue_tasks(session, scope, OVERDUE_LIMIT)
    return DistrictDashboard(
        org=info, window=window, scope=scope, terms=[Choice(t.id, t.name) for t in terms],
        totals=totals, schools=by_school, series=series, weekly=weekly, overdue=overdue,
        overdue_total=totals.overdue, school_names={s.id: s.name for s in schools})


def dashboard_for(session: Session, org: Organization, *, now: datetime,
                  term_id: int | None = None, plan_id: int | None = None,
                  department_id: int | None = None):
    """The school or district dashboard of ``org``, by its kind."""
    if org.kind.value == "district":
        if plan_id is not None or department_id is not None:
            raise NotFound("filter")
        return district_dashboard(session, org, now=now, term_id=term_id)
    return school_dashboard(session, org, now=now, term_id=term_id, plan_id=plan_id,
                            department_id=department_id)
