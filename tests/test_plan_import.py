"""Plan import in the app: preview edits, all-or-nothing confirm, revisions, bad files."""
import io
import re
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.conftest import login
from tracker.extensions import db
from tracker.models import Organization, Plan, Task, TaskEvent, TaskStatus
from tracker.plans import preview
from tracker.plans.revision import Measure, match

PLAN = """学校工作计划
一、指导思想
坚持立德树人。
二、工作措施
（一）教学工作
1.教务处每月开展一次教学常规检查。
2.期中组织质量检测，及格率达到95%以上。
（二）安全工作
1.总务处开学初完成校舍安全排查。
"""


def _rows(nodes):
    return preview.flatten(nodes)


def test_preview_edits_exclude_level_merge_and_section_defaults():
    nodes = [{"label": "一、", "number": "一", "heading": "措施", "text": "", "kind": "section",
              "children": [
                  {"label": "1.", "heading": "甲", "text": "甲。", "kind": "measure",
                   "children": []},
                  {"label": "2.", "heading": "乙", "text": "乙。", "kind": "measure",
                   "children": []},
                  {"label": "3.", "heading": "丙", "text": "丙。", "kind": "measure",
                   "children": []}]}]
    rows = _rows(nodes)
    assert [r.path for r in rows] == ["一、", "一、1.", "一、2.", "一、3."]
    present = {"n-1-include", "n-2-merge", "n-3-include"}
    values = {"n-1-include": "on", "n-2-merge": "on", "n-3-level": "1", "n-0-all_due": "2025-05-30",
              "n-0-all_department_id": "7", "n-0-all_lead_user_id": "9", "n-3-include": "on"}
    assert preview.apply_edits(rows, values, present) == []
    assert rows[1].department_id == 7 and rows[1].due == "2025-05-30"
    assert rows[1].lead_user_id == 9
    tree = preview.rebuild(rows)
    assert [n["label"] for n in tree] == ["一、", "3."]
    assert [c["label"] for c in tree[0]["children"]] == ["1."]
    assert "2.乙" in tree[0]["children"][0]["text"]  # merged into the row above
    assert tree[1]["kind"] == "measure" and tree[1]["level"] == 1
    assert preview.count_measures(tree) == 2


def test_preview_reports_unreadable_dates():
    rows = _rows([{"label": "1.", "heading": "甲", "text": "", "kind": "measure",
                   "children": []}])
    problems = preview.apply_edits(rows, {"n-0-due": "2025-02-30"}, set())
    assert problems and rows[0].due is None


def test_revision_matching_by_path_then_by_text():
    old = [Measure(1, "一、1.", "教务处每月开展教学常规检查"),
           Measure(2, "一、2.", "组织期中质量检测"),
           Measure(3, "一、3.", "开展读书节活动")]
    new = [Measure(10, "一、1.", "教务处每月开展一次教学常规检查"),   # same path, edited
           Measure(11, "一、2.", "开展读书节活动"),                  # moved up
           Measure(12, "一、3.", "新增：组织科技节")]                  # new
    result = match(old, new)
    assert [(o, n) for o, n, _ in result.matched] == [(1, 10), (3, 11)]
    assert result.added == [12] and result.removed == [2]


def _start_import(client, text=PLAN, **extra):
    data = {"text": text, "term": "0", "revision_of": "0", **extra}
    return client.post("/plans/import", data=data, content_type="multipart/form-data")


def _token(response) -> str:
    return re.search(r"/plans/import/(\w+)", response.headers["Location"]).group(1)


def _count(app, model, *where):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_paste_preview_edit_confirm_creates_all_tasks(client, app, world):
    login(client, world.emails["leader"])
    response = _start_import(client)
    assert response.status_code == 302
    token = _token(response)
    page = client.get(f"/plans/import/{token}").get_data(as_text=True)
    assert "教学常规检查" in page and "校舍安全排查" in page
    rows = re.findall(r'data-key="(\d+)"', page)
    measure_key = next(k for k in rows if f'name="n-{k}-department_id"' in page)
    assert _count(app, Plan) == 0  # nothing created by the preview
    response = client.post(f"/plans/import/{token}", data={
        "action": "confirm", f"n-{measure_key}-department_id": str(world.dept),
        f"n-{measure_key}-due": "2025-03-31"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with app.app_context():
        plan = db.session.execute(select(Plan)).scalar_one()
        tasks = db.session.execute(select(Task).where(Task.plan_id == plan.id)
                                   .order_by(Task.id)).scalars().all()
        assert len(tasks) == 3
        edited = [t for t in tasks if t.lead_department_id == world.dept]
        assert edited and str(edited[0].due_date) == "2025-03-31"
        assert plan.organization_id == world.org
    assert client.get(f"/plans/import/{token}").status_code == 302  # used up


def test_staff_cannot_import(client, world):
    login(client, world.emails["lead"])
    assert client.get("/plans/import").status_code == 403
    assert _start_import(client).status_code == 403


def test_import_preview_belongs_to_its_importer(client, app, world):
    login(client, world.emails["leader"])
    token = _token(_start_import(client))
    client.post("/account/logout")
    login(client, world.emails["admin"])
    assert client.get(f"/plans/import/{token}").status_code == 404


def _upload(client, data: bytes, name: str):
    return client.post("/plans/import", data={"file": (io.BytesIO(data), name), "term": "0",
                                              "revision_of": "0"},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("data,name,expected", [
    (b"", "plan.txt", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "plan.docx", "PNG"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "plan.docx", "password"),
])
def test_bad_files_get_a_clear_message_and_create_nothing(client, app, world, data, name,
                                                          expected):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the messages checked are English
    login(client, world.emails["leader"])
    response = _upload(client, data, name)
    assert response.status_code == 200
    assert expected.lower() in response.get_data(as_text=True).lower()
    assert _count(app, Plan) == 0


def test_file_over_the_limit(client, app, world):
    app.config["PLAN_UPLOAD_MAX_BYTES"] = 100
    login(client, world.emails["leader"])
    response = _upload(client, ("一、工作\n1.内容" * 50).encode(), "plan.txt")
    assert response.status_code == 200 and "100" in response.get_data(as_text=True)


def test_xlsx_without_a_header_names_what_it_looked_for(client, app, world):
    book = Workbook()
    book.active.append(["甲", "乙"])
    book.active.append(["x", "y"])
    buffer = io.BytesIO()
    book.save(buffer)
    login(client, world.emails["leader"])
    response = _upload(client, buffer.getvalue(), "tasks.xlsx")
    assert response.status_code == 200
    assert "任务" in response.get_data(as_text=True)


def test_text_without_numbering_is_a_flat_list_with_a_warning(client, app, world):
    login(client, world.emails["leader"])
    response = _start_import(client, text="开展读书活动。\n\n组织家长会。\n\n完善食堂管理。")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "alert-warning" in page
    client.post(response.headers["Location"], data={"action": "confirm"})
    assert _count(app, Task, Task.plan_id.is_not(None)) == 3  # one task per paragraph


@pytest.mark.parametrize("language,expected", [
    ("zh-CN", "第 3 行：3. 的编号不连续（应为 2）。"),
    ("en", "Line 3: 3. is out of sequence (2 was expected)."),
])
def test_reading_notes_are_in_the_readers_language(client, world, language, expected):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    login(client, world.emails["leader"])
    response = _start_import(client, text="一、德育工作\n1. 开展升旗仪式\n3. 组织主题班会\n"
                                          "4. 召开家长会")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert expected in page and "out of sequence" not in page.replace(expected, "")


def test_reimport_keeps_tasks_and_history_of_matching_measures(client, app, world):
    login(client, world.emails["leader"])
    token = _token(_start_import(client))
    client.post(f"/plans/import/{token}", data={"action": "confirm"})
    with app.app_context():
        plan_id = db.session.execute(select(Plan.id)).scalar_one()
        kept = db.session.execute(select(Task).where(Task.plan_id == plan_id,
                                                     Task.title.contains("常规检查"))).scalar_one()
        kept_id, kept_version = kept.id, kept.version
    client.post(f"/tasks/{kept_id}/update",
                data={"version": kept_version, "note": "第一次检查完成"})
    revised = PLAN.replace("2.期中组织质量检测，及格率达到95%以上。\n", "") + \
        "（三）读书活动\n1.少先队每月组织一次读书分享会。\n"
    response = _start_import(client, text=revised, revision_of=str(plan_id))
    token = _token(response)
    page = client.get(f"/plans/import/{token}").get_data(as_text=True)
    assert 'id="revision-summary"' in page
    assert client.post(f"/plans/import/{token}", data={"action": "confirm"}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Plan)).scalar() == 1
        kept = db.session.get(Task, kept_id)
        assert kept.plan_node is not None and "常规检查" in kept.plan_node.text
        notes = db.session.execute(select(TaskEvent.note).where(
            TaskEvent.task_id == kept_id)).scalars().all()
        assert "第一次检查完成" in notes
        removed = db.session.execute(select(Task).where(Task.title.contains("质量检测"))) \
            .scalar_one()
        assert removed.status == TaskStatus.cancelled
        assert db.session.execute(select(Task).where(Task.title.contains("读书分享"))) \
            .scalar_one().plan_id == plan_id


def test_shared_sample_plan_imports(client, app, world):
    sample = Path(__file__).resolve().parent.parent / "tracker" / "demo" / "plan.txt"
    login(client, world.emails["leader"])
    response = _upload(client, sample.read_bytes(), "计划.txt")
    assert response.status_code == 302
    client.post(response.headers["Location"], data={"action": "confirm"})
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Task).where(
            Task.plan_id.is_not(None), Task.parent_id.is_(None))).scalar() == 33


def test_cli_import_then_dry_run_revision(app, runner, world, tmp_path):
    sample = tmp_path / "plan.txt"
    sample.write_text(PLAN, encoding="utf-8")
    result = runner.invoke(args=["plan", "import", str(sample), "--org", str(world.org)])
    assert result.exit_code == 0, result.output
    assert "3 measures" in result.output
    plan_id = int(re.search(r"plan (\d+) saved", result.output).group(1))
    assert _count(app, Task, Task.plan_id == plan_id) == 3
    result = runner.invoke(args=["plan", "import", str(sample), "--org", "第一小学",
                                 "--revision-of", str(plan_id), "--dry-run"])
    assert "3 kept, 0 added, 0 removed" in result.output
    bad = tmp_path / "plan.docx"
    bad.write_bytes(b"not a zip")
    result = runner.invoke(args=["plan", "import", str(bad), "--org", str(world.org)])
    assert result.exit_code == 1 and "not a valid .docx" in result.output
    assert _count(app, Plan) == 1


def test_a_revision_dropping_a_recurring_measure_cancels_its_open_occurrences(
        app, runner, world, tmp_path, make_term):
    with app.app_context():
        term = make_term(db.session.get(Organization, world.org), name="2025春季学期",
                         start=date(2025, 3, 3), mid=date(2025, 4, 28), end=date(2025, 6, 27))
        db.session.commit()
        term_id = term.id
    sample = tmp_path / "plan.txt"
    sample.write_text(PLAN, encoding="utf-8")
    result = runner.invoke(args=["plan", "import", str(sample), "--org", str(world.org),
                                 "--term", str(term_id)])
    assert result.exit_code == 0, result.output
    plan_id = int(re.search(r"plan (\d+) saved", result.output).group(1))
    with app.app_context():
        measure = db.session.execute(select(Task).where(
            Task.plan_id == plan_id, Task.recurrence.is_not(None))).scalar_one()
        march = db.session.execute(select(Task).where(Task.parent_id == measure.id)
                                   .order_by(Task.due_date)).scalars().first()
        march.status = TaskStatus.done
        db.session.commit()
        measure_id, march_id = measure.id, march.id

    sample.write_text(PLAN.replace("1.教务处每月开展一次教学常规检查。\n", ""), encoding="utf-8")
    result = runner.invoke(args=["plan", "import", str(sample), "--org", str(world.org),
                                 "--revision-of", str(plan_id)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        occurrences = db.session.execute(select(Task).where(Task.parent_id == measure_id)
                                         ).scalars().all()
        assert db.session.get(Task, measure_id).status == TaskStatus.cancelled
        assert {o.id: o.status for o in occurrences if o.id != march_id} == {
            o.id: TaskStatus.cancelled for o in occurrences if o.id != march_id}
        assert db.session.get(Task, march_id).status == TaskStatus.done
        notes = db.session.execute(select(TaskEvent.note).where(
            TaskEvent.kind == "cancelled", TaskEvent.task_id.in_([o.id for o in occurrences]))
        ).scalars().all()
        assert notes == ["measure removed in a revision of the plan"] * (len(occurrences) - 1)
