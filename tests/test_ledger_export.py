"""The Excel ledger: formula text escaped (pure), and the export matches the filtered list."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from tests.conftest import login
from tracker.extensions import db
from tracker.models import Organization, TaskStatus, User
from tracker.tasks.export import ledger_headers
from tracker.tasks.ledger import LedgerRow, build_workbook, safe_text


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1",
                                  '=HYPERLINK("http://x","点我")'])
def test_formula_like_text_gets_an_apostrophe(text):
    assert safe_text(text) == "'" + text


def test_ordinary_text_is_kept():
    assert safe_text("每月开展一次 = 评价") == "每月开展一次 = 评价"


def _row(note: str) -> LedgerRow:
    return LedgerRow(task_id=1, plan_path="一、教学", measure="=cmd|' /C calc'!A0",
                     lead_owner="张三", lead_department="教务处", supporting="德育处",
                     start_date=None, due_date=date(2025, 3, 31), status="进行中",
                     progress=50, acceptance="", last_update=None, last_note=note,
                     evidence_count=2)


def test_workbook_never_contains_a_formula():
    headers = {name: name for name in LedgerRow.__dataclass_fields__}
    data = build_workbook([_row("=1+1"), _row("正常\x07笔记")], headers, "台账")
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert sheet.cell(3, 13).value == "'=1+1"
    assert sheet.cell(3, 3).value.startswith("'=cmd")
    assert sheet.cell(4, 13).value == "正常笔记"  # control character dropped


@pytest.fixture
def ledger_world(app, world, make_task):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        for n in range(5):
            make_task(org, f"台账任务{n}", lead_user=lead, due=date(2025, 3, n + 1),
                      status=TaskStatus.done if n == 4 else TaskStatus.in_progress)
        db.session.commit()
        db.session.remove()


def test_export_matches_the_filtered_list(client, world, ledger_world, app):
    from tests.api.conftest import bearer
    from tracker.models import ApiToken

    with app.app_context():
        token, plain = ApiToken.issue(db.session.get(User, world.user_ids["leader"]), "t")
        db.session.add(token)
        db.session.commit()
    query = "status=in_progress&sort=-due"
    listed = client.get(f"/api/v1/tasks?{query}&per_page=200",
                        headers=bearer(plain)).get_json()["items"]
    login(client, world.emails["leader"])
    client.patch(f"/api/v1/tasks/{listed[0]['id']}", headers=bearer(plain),
                 json={"version": listed[0]["version"], "note": "=2+2 已完成一半"})
    response = client.get(f"/tasks/export.xlsx?{query}")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    with app.test_request_context():
        headers = list(ledger_headers().values())
    assert [c.value for c in sheet[2]] == headers
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in rows] == [t["id"] for t in listed]
    assert [r[2] for r in rows] == [t["title"] for t in listed]
    assert rows[0][12] == "'=2+2 已完成一半"
    assert all(r[7].date().isoformat() == t["due_date"] for r, t in zip(rows, listed))


def test_staff_export_holds_only_their_tasks(client, world, ledger_world):
    login(client, world.emails["other"])
    sheet = load_workbook(io.BytesIO(client.get("/tasks/export.xlsx").data)).active
    assert sheet.max_row == 2  # title and header: "other" owns nothing
