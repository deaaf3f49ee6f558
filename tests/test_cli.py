"""CLI commands: first admin, demo data (and every page renders for the demo accounts)."""
import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tracker.extensions import db
from tracker.models import Role, Task, TaskStatus, User


def test_create_admin_then_log_in(app, runner, client):
    result = runner.invoke(args=["tracker", "create-admin", "--org", "新建小学", "--name", "王老师",
                                 "--email", "Wang@School.edu.cn", "--password", "long-enough-1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.execute(select(User)).scalar_one()
        assert user.role == Role.admin and user.email == "wang@school.edu.cn"
        assert user.organization.timezone == "Asia/Shanghai"
    assert login(client, "wang@school.edu.cn", "long-enough-1").status_code == 302


def test_create_admin_refuses_short_password_and_duplicates(app, runner):
    result = runner.invoke(args=["tracker", "create-admin", "--org", "X", "--name", "A",
                                 "--email", "a@school.edu.cn", "--password", "short"])
    assert result.exit_code == 1 and "8" in result.output
    ok = ["tracker", "create-admin", "--org", "X", "--name", "A", "--email", "a@school.edu.cn",
          "--password", "long-enough-1"]
    assert runner.invoke(args=ok).exit_code == 0
    again = runner.invoke(args=ok)
    assert again.exit_code == 1 and "a@school.edu.cn" in again.output


@pytest.fixture
def demo(app, runner):
    result = runner.invoke(args=["tracker", "demo"])
    assert result.exit_code == 0, result.output
    return result


def test_demo_has_tasks_in_every_status_and_is_loaded_once(app, runner, demo):
    with app.app_context():
        statuses = set(db.session.execute(select(Task.status).distinct()).scalars())
        assert statuses == set(TaskStatus)
        assert db.session.execute(select(func.count()).select_from(User)).scalar() == 20
        assert db.session.execute(select(func.count()).select_from(Task).where(
            Task.parent_id.is_(None))).scalar() == 33
    assert "already has users" in runner.invoke(args=["tracker", "demo", "--if-empty"]).output
    assert runner.invoke(args=["tracker", "demo"]).exit_code == 1


@pytest.mark.parametrize("email", ["admin@demo.school", "leader@demo.school",
                                   "staff@demo.school"])
def test_demo_accounts_see_their_pages_in_both_languages(app, client, demo, email):
    assert login(client, email, "demo1234").status_code == 302
    with app.app_context():
        task_id = db.session.execute(select(Task.id).join(User, Task.lead_user_id == User.id)
                                     .where(User.email == "staff@demo.school")).scalars().first()
    for path in ["/tasks/mine", "/tasks/", "/plans/", f"/tasks/{task_id}", "/account/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "我的任务" in response.get_data(as_text=True)
    client.post("/account/language/en", data={"next": "/"})
    assert "My tasks" in client.get("/tasks/mine").get_data(as_text=True)
