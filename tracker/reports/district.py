"""The district report: its schools over a term — completion per school, a ranking and
the problems several schools share — as the same ``Document`` the renderers read.

Loading is a fixed number of queries for any number of schools: the schools
(``stats.load_orgs``), their terms overlapping the window, the per-school counts
(``stats.by_org``), the overdue counts per school and department, and the latest
"blocked" notes per school (one select each).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from tracker import stats
from tracker.models import Department, Organization, Task, TaskEvent, TaskStatus, Term
from tracker.reports.document import (
    ChartRef,
    ChartSpec,
    Document,
    Heading,
    Item,
    ItemList,
    Paragraph,
    Table,
)
from tracker.reports.phrases import fmt_date, fmt_rate, translator

COMMON_MIN_SCHOOLS = 2
REASON_LIMIT = 8


@dataclass
class DistrictInput:
    name: str
    term_name: str
    start: date
    end: date
    today: date
    schools: list            # stats.Group per school (by name)
    totals: object           # stats.Counts
    overdue_by_dept: dict[str, dict[int, int]] = field(default_factory=dict)  # dept → school → n
    blocked_notes: dict[str, set[int]] = field(default_factory=dict)          # note → schools


def _window(session: Session, district: Organization, today: date, term_id: int | None):
    from tracker.dashboard.services import choose_window

    terms = list(session.execute(select(Term).where(Term.organization_id == district.id)
                                 .order_by(Term.start_date.desc())).scalars())
    return choose_window(terms, term_id, today)


def load(session: Session, district: Organization, now: datetime,
         term_id: int | None = None) -> DistrictInput:
    today = now.astimezone(ZoneInfo(district.timezone)).date()
    window = _window(session, district, today, term_id)
    schools = stats.load_orgs(session, parent_id=district.id)
    term_ids = stats.overlapping_term_ids(session, [s.id for s in schools], window.start,
                                          window.end)
    scope = stats.Scope(orgs=tuple(schools), start=window.start, end=window.end, now=now,
                        term_ids=term_ids)
    groups = stats.by_org(session, scope)
    totals = stats.sum_counts(g.counts for g in groups)
    result = DistrictInput(name=district.name, term_name=window.name, start=window.start,
                           end=window.end, today=today, schools=groups, totals=totals)
    if not schools:
        return result
    # Overdue open tasks per (department name, school): "the same office is behind
    # in many schools". Department names are compared as written.
    parent = aliased(Task, name="parent")
    dept = aliased(Department, name="dept")
    child = aliased(Task, name="child")
    in_scope = (Task.organization_id.in_([s.id for s in schools]),
                ~select(child.id).where(child.parent_id == Task.id).exists())
    rows = session.execute(
        select(dept.name, Task.organization_id, func.count())
        .select_from(Task)
        .outerjoin(parent, parent.id == Task.parent_id)
        .join(dept, dept.id == func.coalesce(Task.lead_department_id, parent.lead_department_id))
        .where(*in_scope, Task.status.in_([TaskStatus.not_started, TaskStatus.in_progress,
                                           TaskStatus.blocked]),
               Task.due_date < today, Task.due_date >= window.start)
        .group_by(dept.name, Task.organization_id)).all()
    for name, org_id, n in rows:
        result.overdue_by_dept.setdefault(name, {})[org_id] = n
    # Reasons given for blocked tasks (status changed to blocked), per school.
    notes = session.execute(
        select(TaskEvent.note, Task.organization_id)
        .join(Task, Task.id == TaskEvent.task_id)
        .where(Task.organization_id.in_([s.id for s in schools]),
               Task.status == TaskStatus.blocked, TaskEvent.note != "",
               TaskEvent.created_at >= datetime.combine(window.start, datetime.min.time(),
                                                        ZoneInfo(district.timezone)))
        .distinct()).all()
    for note, org_id in notes:
        key = _normalise(note)
        if key:
            result.blocked_notes.setdefault(key, set()).add(org_id)
    return result


_SPACE = re.compile(r"\s+")


def _normalise(note: str) -> str:
    text = _SPACE.sub(" ", note or "").strip().rstrip("。.")
    return text[:80]


def ranking(schools: list) -> list:
    """Best completion first; schools with nothing to complete last."""
    return list(reversed(stats.worst_first([g for g in schools
                                            if g.counts.completion_rate is not None]))) + \
        [g for g in schools if g.counts.completion_rate is None]


def compose(data: DistrictInput, lang: str = "zh_CN") -> Document:
    t = translator(lang)
    c = data.totals
    title = t("district_title", org=data.name, term=data.term_name)
    blocks: list = []
    if c.active:
        blocks.append(Paragraph(t("district_intro", term=data.term_name, org=data.name,
                                  schools=len(data.schools), tasks=c.active,
                                  completed=c.completed, rate=fmt_rate(c.completion_rate),
                                  on_time=fmt_rate(c.on_time_rate), overdue=c.overdue), "lead"))
    else:
        blocks.append(Paragraph(t("district_no_tasks"), "lead"))
    ranked = ranking(data.schools)
    headers = [t("col_rank"), t("col_school"), t("col_tasks"), t("col_completed"),
               t("col_rate"), t("col_on_time"), t("col_overdue")]
    rows = []
    for rank, g in enumerate(ranked, start=1):
        k = g.counts
        rows.append([str(rank) if k.completion_rate is not None else "—", g.label, str(k.active),
                     str(k.completed), fmt_rate(k.completion_rate), fmt_rate(k.on_time_rate),
                     str(k.overdue)])
    ledger = Table(headers, rows, numeric=(0, 2, 3, 4, 5, 6))
    charts = []
    shown = [g for g in ranked if g.counts.active][:40]
    if shown:
        charts.append(ChartSpec(key="schools", kind="bars", title=t("chart_schools"),
                                labels=[g.label for g in shown],
                                values=[g.counts.completion_rate or 0 for g in shown],
                                counts=[f"{g.counts.completed}/{g.counts.active}" for g in shown],
                                axis_label=t("axis_rate")))
    blocks.append(Heading(1, t("figures"), "figures"))
    blocks.append(Table([t("fig_item"), t("fig_value")], [
        [t("col_school"), str(len(data.schools))], [t("fig_tasks"), str(c.total)],
        [t("fig_cancelled"), str(c.cancelled)], [t("fig_completed"), str(c.completed)],
        [t("fig_rate"), fmt_rate(c.completion_rate)], [t("fig_on_time"), fmt_rate(c.on_time_rate)],
        [t("fig_overdue"), str(c.overdue)], [t("fig_blocked"), str(c.blocked)]], numeric=(1,)))
    blocks.extend(ChartRef(chart.key, chart.title) for chart in charts)
    blocks.append(Heading(1, t("district_ranking"), "ranking"))
    blocks.append(ledger)
    blocks.append(Heading(1, t("district_problems"), "problems"))
    problems = []
    for name, per_school in sorted(data.overdue_by_dept.items(),
                                   key=lambda kv: (-len(kv[1]), -sum(kv[1].values()), kv[0])):
        if len(per_school) >= COMMON_MIN_SCHOOLS:
            problems.append(Item(t("district_problem_dept", n=len(per_school), department=name,
                                   tasks=sum(per_school.values())) + t("sentence_end"), "",
                                 "overdue"))
    reasons = sorted(((note, schools) for note, schools in data.blocked_notes.items()
                      if len(schools) >= COMMON_MIN_SCHOOLS),
                     key=lambda kv: (-len(kv[1]), kv[0]))[:REASON_LIMIT]
    for note, schools in reasons:
        problems.append(Item(t("district_problem_reason", n=len(schools), reason=note)
                             + t("sentence_end"), "", "blocked"))
    if problems:
        blocks.append(ItemList(t("problems_title"), problems))
    else:
        blocks.append(Paragraph(t("district_no_problems")))
    return Document(lang=lang, title=title,
                    subtitle=f"{data.name}　{fmt_date(data.today, lang)}" if lang.startswith("zh")
                    else f"{data.name} · {fmt_date(data.today, lang)}",
                    blocks=blocks, ledger=ledger, ledger_title=t("district_ranking"),
                    charts=charts, filename_stem=title)
