"""``flask task assign``: bulk assignment from CSV, all or nothing, errors by line."""
from __future__ import annotations

from datetime import date

from tracker.extensions import db
from tracker.models import Organization, Task, TaskEvent
from tracker.tasks.assignment_csv import parse


def test_parse_reports_each_bad_line():
    lines, errors = parse("任务编号,负责人,牵头部门,完成时限\n"
                          "1,a@x.cn,,2025-03-31\n"
                          "x,,,\n"
                          "2,,,2025-02-30\n"
                          "1,b@x.cn,,\n")
    assert [line.task_id for line in lines] == [1]
    assert lines[0].due == date(2025, 3, 31)
    assert errors == ["line 3: task id 'x' is not a number",
                      "line 3: nothing to change (owner, department and due are empty)",
                      "line 4: due date '2025-02-30' is not a date like 2025-03-31",
                      "line 5: task 1 is already on line 2"]


def test_parse_needs_a_task_column():
    assert parse("owner,due\na@x.cn,2025-01-01\n")[1] == [
        "line 1: no task column (expected a header row: task,owner,department,due)"]


def _write(tmp_path, text, encoding="utf-8-sig"):
    path = tmp_path / "assign.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_assign_from_csv(app, runner, world, make_task, tmp_path):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        second = make_task(org, "第二个任务").id
        db.session.commit()
    csv = _write(tmp_path, f"task,owner,department,due\n{world.task},other@one.edu.cn,,"
                           f"2025-06-30\n{second},,教务处,2025/7/1\n", encoding="gb18030")
    result = runner.invoke(args=["task", "assign", "--csv", csv, "--org", str(world.org),
                                 "--actor", "leader@one.edu.cn", "--note", "期初分工"])
    assert result.exit_code == 0, result.output
    assert "assigned 2 task(s)" in result.output
    with app.app_context():
        task = db.session.get(Task, world.task)
        assert task.lead_user_id == world.user_ids["other"]
        assert task.due_date == date(2025, 6, 30)
        assert db.session.get(Task, second).lead_department_id == world.dept
        events = db.session.execute(db.select(TaskEvent)).scalars().all()
        assert {e.kind for e in events} == {"assigned"}
        assert {e.actor_id for e in events} == {world.user_ids["leader"]}
        assert {e.note for e in events} == {"期初分工"}


def test_one_bad_line_changes_nothing(app, runner, world, tmp_path):
    csv = _write(tmp_path, f"task,owner,due\n{world.task},other@one.edu.cn,2025-06-30\n"
                           f"{world.foreign_task},other@one.edu.cn,\n"
                           f"{world.task + 100},nobody@one.edu.cn,\n")
    result = runner.invoke(args=["task", "assign", "--csv", csv, "--org", str(world.org)])
    assert result.exit_code == 1
    assert f"line 3: no task {world.foreign_task} in 第一小学" in result.output
    assert "line 4: no user nobody@one.edu.cn in 第一小学" in result.output
    assert "nothing was changed" in result.output
    with app.app_context():
        assert db.session.get(Task, world.task).lead_user_id == world.user_ids["lead"]
        assert db.session.execute(db.select(TaskEvent)).first() is None


def test_dry_run_and_actor_checks(app, runner, world, tmp_path):
    csv = _write(tmp_path, f"task,owner\n{world.task},other@one.edu.cn\n")
    result = runner.invoke(args=["task", "assign", "--csv", csv, "--org", str(world.org),
                                 "--dry-run"])
    assert result.exit_code == 0 and "1 of 1 task(s) would change" in result.output
    staff = runner.invoke(args=["task", "assign", "--csv", csv, "--org", str(world.org),
                                "--actor", "lead@one.edu.cn"])
    assert staff.exit_code == 1 and "not an active leader" in staff.output
    with app.app_context():
        assert db.session.get(Task, world.task).lead_user_id == world.user_ids["lead"]
