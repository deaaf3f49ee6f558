"""tracker.stats on constructed data, against figures computed by hand.

The school: Asia/Shanghai, "today" 2025-04-10 (12:00 local), term 2025-02-17 – 2025-07-04,
a plan 一、(1.1, （一）→1.2) 二、(2.1). The tasks are listed in ``school`` with what
each one should count as; the expected figures follow from that list.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tracker import stats
from tracker.extensions import db
from tracker.models import (
    Acceptance,
    NodeKind,
    OrgKind,
    Plan,
    PlanNode,
    Recurrence,
    Task,
    TaskStatus,
    Term,
)

NOW = datetime(2025, 4, 10, 4, 0, tzinfo=timezone.utc)      # 12:00 in Shanghai
RECENT = NOW - timedelta(days=1)
TERM = (date(2025, 2, 17), date(2025, 7, 4))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def add_task(org, title, *, status=TaskStatus.not_started, due=None, plan=None, node=None,
             parent=None, dept=None, owner=None, completed_at=None,
             acceptance=Acceptance.not_required, last_activity=RECENT, **kw) -> Task:
    task = Task(organization_id=org.id, title=title, status=status, due_date=due,
                plan_id=plan.id if plan else None, plan_node_id=node.id if node else None,
                parent_id=parent.id if parent else None,
                lead_department_id=dept.id if dept else None,
                lead_user_id=owner.id if owner else None, completed_at=completed_at,
                acceptance=acceptance, last_activity_at=last_activity, **kw)
    db.session.add(task)
    db.session.flush()
    return task


def add_node(plan, position, label, heading, kind=NodeKind.section, parent=None) -> PlanNode:
    node = PlanNode(plan_id=plan.id, position=position, label=label, number=label,
                    heading=heading, kind=kind, parent_id=parent.id if parent else None)
    db.session.add(node)
    db.session.flush()
    return node


@pytest.fixture
def school(app, make_org, make_department, make_user):
    """Builds the school; returns (org id, plan id, ids by name). Requires acceptance when
    the test is parametrised so."""
    def build(requires_acceptance: bool = False) -> dict:
        org = make_org("实验小学", timezone="Asia/Shanghai", stale_after_days=14,
                       requires_acceptance=requires_acceptance)
        other = make_org("别的学校")
        dept_a = make_department(org, "教务处")
        dept_b = make_department(org, "德育处")
        owner = make_user(org, "staff", name="张老师")
        term = Term(organization_id=org.id, name="2024—2025学年第二学期", start_date=TERM[0],
                    end_date=TERM[1])
        db.session.add(term)
        db.session.flush()
        plan = Plan(organization_id=org.id, term_id=term.id, title="学校工作计划")
        db.session.add(plan)
        db.session.flush()
        s1 = add_node(plan, 0, "一、", "教学工作")
        m11 = add_node(plan, 1, "1.", "常规检查", NodeKind.measure, s1)
        s11 = add_node(plan, 2, "（一）", "教研", NodeKind.section, s1)
        m12 = add_node(plan, 3, "1.", "集体备课", NodeKind.measure, s11)
        s2 = add_node(plan, 4, "二、", "德育工作")
        m21 = add_node(plan, 5, "1.", "主题班会", NodeKind.measure, s2)
        acc = Acceptance.accepted if requires_acceptance else Acceptance.not_required
        pending = Acceptance.pending if requires_acceptance else Acceptance.not_required
        ids = {}
        # Done 23:30 local on its due date (15:30 UTC): on time.
        ids["t1"] = add_task(org, "t1", status=TaskStatus.done, due=date(2025, 3, 31), plan=plan,
                             node=m11, dept=dept_a, owner=owner,
                             completed_at=utc(2025, 3, 31, 15, 30), acceptance=acc).id
        # Done 00:30 local the day after (16:30 UTC on the due date): 1 day late.
        ids["t2"] = add_task(org, "t2", status=TaskStatus.done, due=date(2025, 3, 31), plan=plan,
                             node=m11, dept=dept_a, completed_at=utc(2025, 3, 31, 16, 30),
                             acceptance=pending).id
        # Open, past due, no activity for 40 days: overdue and stale.
        ids["t3"] = add_task(org, "t3", status=TaskStatus.in_progress, due=date(2025, 4, 1),
                             plan=plan, node=m12, dept=dept_b, owner=owner,
                             last_activity=NOW - timedelta(days=40)).id
        # Blocked with no due date: never overdue, outside the on-time rate.
        ids["t4"] = add_task(org, "t4", status=TaskStatus.blocked, plan=plan, node=m12).id
        # Cancelled, past due: counted in total and cancelled only.
        ids["t5"] = add_task(org, "t5", status=TaskStatus.cancelled, due=date(2025, 3, 1),
                             plan=plan, node=m21).id
        # A monthly measure: the parent is not counted, its three occurrences are; they
        # carry the measure's plan, node and department (as ensure_occurrences makes them).
        parent = add_task(org, "t6", recurrence=Recurrence.monthly, plan=plan, node=m21,
                          dept=dept_a, due=date(2025, 6, 30))
        ids["t6"] = parent.id
        same = {"plan": plan, "node": m21, "dept": dept_a, "parent": parent}
        ids["o1"] = add_task(org, "o1", status=TaskStatus.done, due=date(2025, 3, 31),
                             completed_at=utc(2025, 4, 5, 2), acceptance=acc, **same).id
        ids["o2"] = add_task(org, "o2", due=date(2025, 4, 30), **same).id
        ids["o3"] = add_task(org, "o3", due=date(2025, 4, 5), **same).id
        # No plan, due inside the term: in scope. Due before the term: not.
        ids["t7"] = add_task(org, "t7", due=date(2025, 5, 1), dept=dept_b).id
        ids["t9"] = add_task(org, "t9", due=date(2024, 12, 1)).id
        # Another school's task never counts.
        add_task(other, "t8", status=TaskStatus.done, due=date(2025, 3, 31),
                 completed_at=utc(2025, 3, 1))
        db.session.flush()
        return {"org": org, "plan": plan, "term": term, "ids": ids, "dept_a": dept_a.id,
                "dept_b": dept_b.id, "owner": owner.id,
                "sections": {"s1": s1.id, "s11": s11.id, "s2": s2.id}}
    return build


def scope_of(built, **kw) -> stats.Scope:
    return stats.Scope(orgs=(stats.org_info(built["org"]),), start=TERM[0], end=TERM[1],
                       now=NOW, term_ids=(built["term"].id,), **kw)


def test_totals_without_acceptance(ctx, school):
    built = school(requires_acceptance=False)
    counts = stats.totals(db.session, scope_of(built))
    assert (counts.total, counts.cancelled, counts.active) == (9, 1, 8)
    assert (counts.done, counts.completed, counts.awaiting_acceptance) == (3, 3, 0)
    assert (counts.in_progress, counts.blocked, counts.not_started) == (1, 1, 3)
    assert counts.overdue == 2          # t3, o3
    assert counts.stale == 1            # t3
    assert counts.no_due_date == 1      # t4
    assert counts.due_so_far == 5       # t1, t2, o1 completed; t3, o3 past due
    assert (counts.on_time, counts.late, counts.late_days) == (1, 2, 6)
    assert counts.completion_rate == pytest.approx(3 / 8)
    assert counts.on_time_rate == pytest.approx(1 / 5)
    assert counts.average_delay_days == pytest.approx(3.0)


def test_totals_with_acceptance(ctx, school):
    built = school(requires_acceptance=True)
    counts = stats.totals(db.session, scope_of(built))
    assert (counts.done, counts.completed, counts.awaiting_acceptance) == (3, 2, 1)
    assert (counts.on_time, counts.late, counts.late_days) == (1, 1, 5)
    assert counts.due_so_far == 5       # t2 is done but not accepted, and past due
    assert counts.completion_rate == pytest.approx(2 / 8)
    assert counts.average_delay_days == pytest.approx(5.0)


def test_sections_in_plan_order_roll_up_subsections(ctx, school):
    built = school()
    groups = stats.by_section(db.session, scope_of(built), built["plan"].id)
    assert [(g.key, g.label, g.counts.total, g.counts.active, g.counts.completed)
            for g in groups] == [
        (built["sections"]["s1"], "一、教学工作", 4, 4, 2),
        (built["sections"]["s2"], "二、德育工作", 4, 3, 1),
        (None, "", 1, 1, 0),               # t7 has no plan
    ]


def test_by_department_and_owner(ctx, school):
    built = school()
    scope = scope_of(built)
    depts = {g.key: (g.label, g.counts.total, g.counts.completed, g.counts.overdue)
             for g in stats.by_department(db.session, scope)}
    assert depts == {built["dept_a"]: ("教务处", 5, 3, 1), built["dept_b"]: ("德育处", 2, 0, 1),
                     None: ("", 2, 0, 0)}
    owners = {g.key: (g.label, g.counts.total) for g in stats.by_owner(db.session, scope)}
    assert owners == {built["owner"]: ("张老师", 2), None: ("", 7)}


def test_filters_plan_and_department(ctx, school):
    built = school()
    by_plan = stats.totals(db.session, scope_of(built, plan_id=built["plan"].id))
    assert by_plan.total == 8                           # t7 is not in the plan
    dept = stats.totals(db.session, scope_of(built, department_id=built["dept_a"]))
    assert (dept.total, dept.completed, dept.overdue) == (5, 3, 1)


def test_series_and_weekly_deadlines(ctx, school):
    built = school()
    series = stats.completion_series(db.session, scope_of(built))
    assert series.completed == {date(2025, 3, 31): 1, date(2025, 4, 1): 1, date(2025, 4, 5): 1}
    assert series.planned == {date(2025, 3, 31): 3, date(2025, 4, 1): 1, date(2025, 4, 5): 1,
                              date(2025, 4, 30): 1, date(2025, 5, 1): 1}
    assert series.active_total == 8
    cumulative = dict(zip(series.days(), series.cumulative("completed"), strict=True))
    assert cumulative[date(2025, 3, 30)] == 0
    assert cumulative[date(2025, 4, 4)] == 2
    assert cumulative[TERM[1]] == 3
    assert series.ideal()[0] == 0 and series.ideal()[-1] == 8
    weeks = series.weekly_due(date(2025, 4, 10))
    assert weeks[0][:2] == (date(2025, 4, 10), date(2025, 4, 13))
    due = {a: counts for a, _b, counts in weeks if counts}
    assert due == {date(2025, 4, 28): {"not_started": 2}}   # o2 (4-30) and t7 (5-1)
    assert weeks[-1][1] == TERM[1]


def test_overdue_list(ctx, school):
    built = school()
    items = stats.overdue_tasks(db.session, scope_of(built))
    assert [(t.title, t.days_overdue, t.owner, t.department) for t in items] == [
        ("t3", 9, "张老师", "德育处"), ("o3", 5, None, "教务处")]


def test_task_with_occurrences_counts_once_per_occurrence(ctx, school):
    built = school()
    # The parent with no occurrences yet would count itself: remove them and check.
    for key in ("o1", "o2", "o3"):
        db.session.delete(db.session.get(Task, built["ids"][key]))
    db.session.flush()
    counts = stats.totals(db.session, scope_of(built))
    assert counts.total == 9 - 3 + 1


def test_time_zone_with_daylight_saving_on_sqlite_and_postgresql(ctx, make_org):
    """Berlin moves to UTC+2 at 01:00 UTC on 2025-03-30: a completion at 22:30 UTC that
    evening is 00:30 on the 31st locally; at 23:30 UTC the evening before it is 00:30 on
    the 30th (UTC+1)."""
    org = make_org("Schule", timezone="Europe/Berlin")
    add_task(org, "a", status=TaskStatus.done, due=date(2025, 3, 30),
             completed_at=utc(2025, 3, 30, 22, 30))          # 31st local: late by 1
    add_task(org, "b", status=TaskStatus.done, due=date(2025, 3, 29),
             completed_at=utc(2025, 3, 29, 23, 30))          # 30th local: late by 1
    add_task(org, "c", status=TaskStatus.done, due=date(2025, 3, 30),
             completed_at=utc(2025, 3, 30, 21, 30))          # 23:30 on the 30th: on time
    scope = stats.Scope(orgs=(stats.org_info(org),), start=TERM[0], end=TERM[1], now=NOW)
    counts = stats.totals(db.session, scope)
    assert (counts.on_time, counts.late, counts.late_days) == (1, 2, 2)
    series = stats.completion_series(db.session, scope)
    assert series.completed == {date(2025, 3, 30): 2, date(2025, 3, 31): 1}


def test_district_by_org_with_different_settings(ctx, make_org):
    district = make_org("教体局", kind=OrgKind.district)
    east = make_org("东校", parent_id=district.id, requires_acceptance=True)
    west = make_org("西校", parent_id=district.id, timezone="Asia/Urumqi", stale_after_days=3)
    done_at = utc(2025, 3, 1, 3)
    for org in (east, west):
        add_task(org, "done", status=TaskStatus.done, due=date(2025, 3, 10),
                 completed_at=done_at)
        add_task(org, "open", due=date(2025, 4, 9), last_activity=NOW - timedelta(days=5))
    schools = stats.load_orgs(db.session, parent_id=district.id)
    assert [o.name for o in schools] == ["东校", "西校"]
    scope = stats.Scope(orgs=tuple(schools), start=TERM[0], end=TERM[1], now=NOW)
    groups = {g.label: g.counts for g in stats.by_org(db.session, scope)}
    # East needs acceptance: its done task is not complete. West's clock (UTC+6) is 10:00
    # on the 10th too, so both open tasks are overdue; only West's (3 days) is stale.
    assert (groups["东校"].completed, groups["东校"].awaiting_acceptance) == (0, 1)
    assert (groups["西校"].completed, groups["西校"].on_time) == (1, 1)
    assert (groups["东校"].overdue, groups["西校"].overdue) == (1, 1)
    assert (groups["东校"].stale, groups["西校"].stale) == (0, 1)
    weekly = stats.weekly_completed_by_org(db.session, scope)
    assert weekly[west.id][(date(2025, 3, 1) - TERM[0]).days // 7] == 1
    assert sum(weekly[east.id]) == 0


def test_rates_are_none_when_nothing_counts(ctx, make_org):
    org = make_org("空学校")
    scope = stats.Scope(orgs=(stats.org_info(org),), start=TERM[0], end=TERM[1], now=NOW)
    counts = stats.totals(db.session, scope)
    assert counts.total == 0
    assert counts.completion_rate is None and counts.on_time_rate is None
    assert counts.to_dict()["completion_rate"] is None


def test_no_query_loads_tasks(ctx, school):
    """Every statement the statistics send aggregates or limits: none selects all rows."""
    from sqlalchemy import event

    built = school()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        scope = scope_of(built)
        stats.by_section(db.session, scope, built["plan"].id)
        stats.by_department(db.session, scope)
        stats.completion_series(db.session, scope)
        stats.overdue_tasks(db.session, scope)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    task_queries = [s for s in statements if "FROM tasks" in s]
    assert task_queries
    for statement in task_queries:
        aggregate = statement.startswith("SELECT count(*)") or "GROUP BY" in statement
        assert aggregate or "LIMIT" in statement, statement
