"""The composer: the demo plan's report has the plan's sections and the statistics'
figures; plans where nothing, everything or nothing with evidence was done read well."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.reports.conftest import (
    DEMO_NOW,
    build_interleaved_plan,
    build_plan,
    section_titles,
)
from tracker import stats
from tracker.extensions import db
from tracker.models import Organization, Plan, Task
from tracker.reports import compose, data
from tracker.reports.document import Heading, ItemList, Paragraph
from tracker.reports.phrases import fmt_rate


def _report(plan_id, now=DEMO_NOW, lang="zh_CN"):
    plan = db.session.get(Plan, plan_id)
    return compose.compose(data.load(db.session, plan, now), lang)


def test_demo_report_sections_are_the_plans_sections_in_order(app, demo):
    with app.app_context():
        report = _report(demo["plan"])
        headings = [h.text for h in report.document.section_headings()]
        assert headings == section_titles(demo["plan"])
        assert len(headings) >= 8
        # Numbering as printed in the plan, nesting as deep as the plan's.
        assert headings[1].startswith("（一）")
        assert {h.level for h in report.document.section_headings()} >= {1, 2, 3}
        # Every measure of the plan appears once, under a section, and in the ledger.
        measures = db.session.execute(select(Task.id).where(
            Task.plan_id == demo["plan"], Task.parent_id.is_(None))).scalars().all()
        listed = [m.task_id for s in report.sections for m in s.measures]
        assert sorted(listed) == sorted(measures)
        assert len(report.document.ledger.rows) == len(measures)


def test_demo_figures_equal_the_statistics_module(app, demo):
    with app.app_context():
        plan = db.session.get(Plan, demo["plan"])
        scope = data.plan_scope(db.session, plan, DEMO_NOW)
        expected = stats.totals(db.session, scope)
        report = _report(demo["plan"])
        assert report.totals == expected
        text = report.document.text()
        assert fmt_rate(expected.completion_rate) in text
        assert fmt_rate(expected.on_time_rate) in text
        figures = dict(tuple(row) for row in report.document.blocks[2].rows)
        assert figures["任务（项，周期性措施按次计）"] == str(expected.total)
        assert figures["已完成（项）"] == str(expected.completed)
        assert figures["逾期未完成（项）"] == str(expected.overdue)
        assert figures["完成率"] == fmt_rate(expected.completion_rate)
        assert figures["按期完成率"] == fmt_rate(expected.on_time_rate)
        # Top-level sections: the same counts as stats.by_section.
        top = {g.key: g.counts for g in stats.by_section(db.session, scope, plan.id)}
        for section in report.sections:
            if section.depth == 1 and section.node_id in top:
                assert section.counts == top[section.node_id]
        # Per department: the dashboard's figures.
        departments = {g.key: g.counts for g in stats.by_department(db.session, scope)}
        assert {g.key: g.counts for g in data.load(db.session, plan, DEMO_NOW).departments} \
            == departments


def test_demo_figures_equal_the_stats_api(app, client, demo):
    """Today's report against GET /api/v1/stats?plan=ID, both at the real "now"."""
    with app.app_context():
        from tracker.models import utcnow

        report = _report(demo["plan"], now=utcnow())
        totals = report.totals.to_dict()
        sections = {s.node_id: s.counts.to_dict() for s in report.sections if s.depth == 1}
    assert login(client, "leader@demo.school", "demo1234").status_code == 302
    api = client.get(f"/api/v1/stats?plan={demo['plan']}").get_json()
    for name in ("total", "cancelled", "completed", "overdue", "on_time", "due_so_far",
                 "awaiting_acceptance", "blocked", "completion_rate", "on_time_rate"):
        assert api["totals"][name] == totals[name], name
    for group in api["sections"]:
        if group["id"] in sections:
            assert group["completed"] == sections[group["id"]]["completed"]
            assert group["total"] == sections[group["id"]]["total"]


def test_done_and_not_done_measures_say_what_was_recorded_and_why(app, demo):
    with app.app_context():
        report = _report(demo["plan"])
        done = [m for m in report.measures if m.state == "done"]
        blocked = [m for m in report.measures if m.state == "blocked"]
        cancelled = [m for m in report.measures if m.state == "cancelled"]
        assert done and blocked and cancelled
        assert all(m.completed_on for m in done)
        assert all(m.reason for m in blocked + cancelled)
        text = report.document.text()
        assert "原因：" in text and "工作记录：" in text and "完成时限" in text
        assert "验收通过" not in text  # boilerplate notes are skipped
        for part in ("计划调整情况", "存在问题与下步打算", "附件：工作台账"):
            assert part in text


def test_english_report(app, demo):
    with app.app_context():
        document = _report(demo["plan"], lang="en").document
        assert document.title.startswith("演示实验小学: ")
        assert "Problems and next steps" in document.text()


@pytest.mark.parametrize("outcome,evidence", [("nothing", False), ("everything", True),
                                              ("everything", False), ("mixed", False)])
def test_edge_plans_read_sensibly(app, make_org, make_term, outcome, evidence):
    today = date(2025, 1, 10)
    with app.app_context():
        org = make_org("边界小学")
        term = make_term(org)
        plan = build_plan(org, term, outcome, evidence=evidence, today=today)
        db.session.commit()
        from datetime import datetime, timezone

        report = compose.compose(data.load(db.session, plan, datetime(2025, 1, 10, 4,
                                                                      tzinfo=timezone.utc)))
        document = report.document
        text = document.text()
        assert "None" not in text and "nan%" not in text and "inf" not in text
        assert [h.text for h in document.section_headings()] == ["一、德育工作", "二、教学工作"]
        # No empty heading: every heading is followed by something that is not a heading
        # of the same or a higher level.
        for block, following in zip(document.blocks, document.blocks[1:] + [None],
                                    strict=True):
            if isinstance(block, Heading):
                assert following is not None and not (
                    isinstance(following, Heading) and following.level <= block.level), block
        for block in document.blocks:
            if isinstance(block, ItemList):
                assert block.items
            if isinstance(block, Paragraph):
                assert block.text.strip()
        if outcome == "nothing":
            assert report.totals.completed == 0
            assert "完成率0%" in text and "逾期未完成4项" in text
            assert "按期完成率0%" in text  # four came due, none done on time
        if outcome == "everything":
            assert "完成率100%" in text and "按期完成率100%" in text
            assert ("佐证材料1份" in text) is evidence
            assert ("未上传佐证材料" in text) is (not evidence)
            assert "本学期各项措施均已按期完成" in text or "未上传佐证材料" in text
        if outcome == "mixed":
            assert "场地未落实" in text


def _outline(document, lang="zh_CN"):
    """The plan part of the report as (heading) and (list title, item leads), in order."""
    outline, inside = [], False
    for block in document.blocks:
        if isinstance(block, Heading):
            inside = block.section_id is not None
            if inside:
                outline.append(block.text)
        elif inside and isinstance(block, ItemList):
            outline.append((block.title, [item.lead for item in block.items]))
    return outline


def test_measures_and_sub_sections_keep_the_plans_order(app, make_org, make_term):
    """一、 has 1., then （一）, then 2. and 3.: the report says them in that order, and
    says where the measures after a sub-section belong."""
    from datetime import datetime, timezone

    today = date(2025, 1, 10)
    with app.app_context():
        org = make_org("交错小学")
        plan = build_interleaved_plan(org, make_term(org), today=today)
        db.session.commit()
        report_input = data.load(db.session, plan, datetime(2025, 1, 10, 4, tzinfo=timezone.utc))
        report = compose.compose(report_input)
        assert _outline(report.document) == [
            "一、德育工作",
            ("已完成", ["1.开好升旗仪式"]),
            "（一）班主任队伍建设",
            ("已完成", ["2.开展班主任培训"]),
            ("未完成", ["1.每月召开班主任例会"]),
            ("一、德育工作（续）：已完成", ["2.办好家长学校"]),
            ("一、德育工作（续）：未完成", ["3.做好心理健康教育"]),
            "二、教学工作",
            ("已完成", ["1.开展集体备课"]),
        ]
        assert [h.text for h in report.document.section_headings()] == section_titles(plan.id)
        # A section still holds all its own measures, in plan order, and its sub-section's
        # counts stay inside its own.
        first = report.sections[0]
        assert [m.title for m in first.measures] == ["开好升旗仪式", "办好家长学校",
                                                     "做好心理健康教育"]
        assert first.counts.active == 5 and report.sections[1].counts.active == 2
        english = _outline(compose.compose(report_input, "en").document)
        assert ("一、德育工作 (continued): done", ["2.办好家长学校"]) in english


def test_empty_plan_does_not_divide_by_zero(app, make_org, make_term):
    with app.app_context():
        org = make_org("空计划小学")
        term = make_term(org)
        plan = Plan(organization_id=org.id, term=term, title="空计划")
        db.session.add(plan)
        db.session.commit()
        from datetime import datetime, timezone

        document = compose.compose(data.load(db.session, plan, datetime(2025, 1, 10,
                                                                        tzinfo=timezone.utc))).document
        assert "None" not in document.text()
        assert document.section_headings() == []
        assert "计划尚无需要完成的任务" in document.text()


def test_changes_and_previous_term(app, demo, make_term):
    """A deadline moved, a measure added after import, and last term's plan to compare."""
    from datetime import datetime, timezone

    from tracker.models import TaskEvent, Term, utcnow

    with app.app_context():
        plan = db.session.get(Plan, demo["plan"])
        org = db.session.get(Organization, demo["org"])
        task = db.session.execute(select(Task).where(Task.plan_id == plan.id,
                                                     Task.parent_id.is_(None))
                                  .order_by(Task.id)).scalars().first()
        old = task.due_date
        task.due_date = old + timedelta(days=7)
        db.session.add(TaskEvent(task=task, kind="assigned",
                                 changes={"due_date": [old.isoformat(),
                                                       task.due_date.isoformat()]}))
        added = Task(organization_id=org.id, plan=plan, plan_node=task.plan_node,
                     title="新增：校园读书节", due_date=date(2025, 1, 10),
                     created_at=utcnow() + timedelta(days=1))
        db.session.add(added)
        previous_term = make_term(org, name="2023—2024学年第二学期", start=date(2024, 2, 20),
                                  mid=date(2024, 4, 20), end=date(2024, 7, 3))
        previous = Plan(organization_id=org.id, term=previous_term, title="上学期计划")
        db.session.add(previous)
        db.session.flush()
        db.session.add(Task(organization_id=org.id, plan=previous, title="旧任务",
                            due_date=date(2024, 5, 1), status="done",
                            completed_at=datetime(2024, 4, 20, tzinfo=timezone.utc)))
        db.session.commit()
        text = _report(plan.id).document.text()
        assert "调整完成时限1项" in text
        assert f"完成时限由{old.year}年{old.month}月{old.day}日调整为" in text
        assert "新增措施1项" in text and "校园读书节" in text
        assert "与上学期对比" in text and "2023—2024学年第二学期" in text
        assert isinstance(db.session.get(Term, previous_term.id), Term)


def test_loading_uses_a_fixed_number_of_queries(app, demo):
    from sqlalchemy import event

    with app.app_context():
        plan = db.session.get(Plan, demo["plan"])
        plan.organization, plan.term  # noqa: B018  (loaded before counting)
        statements = []

        def count(*_args):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            data.load(db.session, plan, DEMO_NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) <= 12, len(statements)
