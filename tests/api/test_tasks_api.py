"""Task API behaviour: filters and paging, updates with their history, bad input that
changes nothing, and list endpoints that run a fixed number of queries."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import bearer
from tests.conftest import recorded_statements
from tracker.extensions import db
from tracker.i18n import local_today
from tracker.models import Organization, Task, TaskEvent, TaskStatus, User


def _task_state(app, task_id):
    with app.app_context():
        task = db.session.get(Task, task_id)
        state = (task.status, task.progress, task.version, task.lead_user_id, task.due_date,
                 task.organization_id)
        events = db.session.execute(db.select(TaskEvent).where(
            TaskEvent.task_id == task_id)).scalars().all()
        result = state, [(e.kind, e.changes, e.note) for e in events]
        db.session.remove()
        return result


def test_update_goes_through_the_service_and_history(client, tokens, world):
    response = client.patch(f"/api/v1/tasks/{world.task}", headers=bearer(tokens["lead"]),
                            json={"version": 1, "status": "in_progress", "progress": 40,
                                  "note": "已完成第一轮检查"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["progress"], body["version"]) == ("in_progress", 40, 2)
    [entry] = body["history"]
    assert entry["changes"] == {"status": ["not_started", "in_progress"], "progress": [0, 40]}
    assert entry["note"] == "已完成第一轮检查"
    assert entry["actor"]["id"] == world.user_ids["lead"]


def test_stale_version_answers_409_with_current_values_and_changes_nothing(app, client,
                                                                          tokens, world):
    headers = bearer(tokens["lead"])
    client.patch(f"/api/v1/tasks/{world.task}", headers=headers,
                 json={"version": 1, "progress": 20})
    before = _task_state(app, world.task)
    response = client.patch(f"/api/v1/tasks/{world.task}", headers=headers,
                            json={"version": 1, "progress": 90, "note": "我的笔记"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["current"]["progress"] == 20 and error["current"]["version"] == 2
    assert _task_state(app, world.task) == before


@pytest.mark.parametrize("body, status, field", [
    ({"version": 1, "note": "x" * 1_000_000}, 400, "note"),
    ({"version": 1, "progress": 150}, 400, "progress"),
    ({"version": 1, "progress": -1}, 400, "progress"),
    ({"version": 1, "progress": "50"}, 400, "progress"),
    ({"version": 1, "progress": True}, 400, "progress"),
    ({"version": 1, "status": "finished"}, 400, "status"),
    ({"version": 1, "status": "cancelled"}, 400, "status"),
    ({"version": 1, "actual_value": "many"}, 400, "actual_value"),
    ({"version": 1, "actual_value": 1e20}, 400, "actual_value"),
    ({"version": "abc", "progress": 10}, 400, "version"),
    ({"version": 0, "progress": 10}, 400, "version"),
    ({"progress": 10}, 400, "version"),
    ({"version": 99, "progress": 10}, 409, None),
    ({"version": 1}, 400, None),
    ([1, 2], 400, "body"),
    # Fields a role may not change here, smuggled into an update:
    ({"version": 1, "progress": 10, "lead_user_id": 5}, 400, "lead_user_id"),
    ({"version": 1, "note": "x", "due_date": "2030-01-01"}, 400, "due_date"),
    ({"version": 1, "note": "x", "organization_id": 2}, 400, "organization_id"),
    ({"version": 1, "note": "x", "acceptance": "accepted"}, 400, "acceptance"),
])
def test_bad_input_is_refused_clearly_and_changes_nothing(app, client, tokens, world, body,
                                                          status, field):
    before = _task_state(app, world.task)
    response = client.patch(f"/api/v1/tasks/{world.task}", headers=bearer(tokens["lead"]),
                            json=body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == status and len(error["message"]) > 10
    if field:
        assert error.get("field") == field
    assert _task_state(app, world.task) == before


def test_a_leader_smuggling_an_owner_change_is_refused_too(app, client, tokens, world):
    before = _task_state(app, world.task)
    response = client.patch(f"/api/v1/tasks/{world.task}", headers=bearer(tokens["leader"]),
                            json={"version": 1, "progress": 10,
                                  "lead_user_id": world.user_ids["other"]})
    assert response.status_code == 400
    assert "lead_user_id" in response.get_json()["error"]["message"]
    assert _task_state(app, world.task) == before


def test_supporting_owner_may_note_but_not_change_progress(app, client, tokens, world):
    headers = bearer(tokens["support"])
    before = _task_state(app, world.task)
    refused = client.patch(f"/api/v1/tasks/{world.task}", headers=headers,
                           json={"version": 1, "progress": 60, "note": "顺便改进度"})
    assert refused.status_code == 403
    assert _task_state(app, world.task) == before
    noted = client.patch(f"/api/v1/tasks/{world.task}", headers=headers,
                         json={"version": 1, "note": "配合部门已到位"})
    assert noted.status_code == 200
    assert noted.get_json()["history"][-1]["kind"] == "note"


def test_html_in_a_note_is_stored_and_returned_as_text(app, client, tokens, world):
    script = "<script>alert('x')</script><b>粗体</b>"
    response = client.patch(f"/api/v1/tasks/{world.task}", headers=bearer(tokens["lead"]),
                            json={"version": 1, "note": script})
    assert response.get_json()["history"][-1]["note"] == script
    with app.app_context():
        assert db.session.execute(db.select(TaskEvent.note)).scalar_one() == script
    # …and the task page shows it escaped, never as markup.
    from tests.conftest import login

    login(client, world.emails["lead"])
    page = client.get(f"/tasks/{world.task}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


@pytest.fixture
def many(app, world, make_task):
    """Ten tasks of the first organisation with varied owners, statuses and dates."""
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        other = db.session.get(User, world.user_ids["other"])
        today = local_today(org.timezone)  # "overdue" is judged in the school's zone
        for n in range(10):
            make_task(org, f"任务{n:02d}", lead_user=lead if n % 2 else other,
                      due=today + timedelta(days=n - 3),
                      status=TaskStatus.done if n % 5 == 0 else TaskStatus.not_started)
        db.session.commit()
        db.session.remove()


def _titles(client, token, query):
    response = client.get(f"/api/v1/tasks?{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return [t["title"] for t in response.get_json()["items"]], response.get_json()


def test_filters_and_paging(client, tokens, world, many):
    leader = tokens["leader"]
    titles, body = _titles(client, leader, "per_page=4")
    assert body["total"] == 11 and body["pages"] == 3 and len(titles) == 4
    page3, _ = _titles(client, leader, "per_page=4&page=3")
    assert len(page3) == 3
    beyond, body = _titles(client, leader, "per_page=4&page=9")
    assert beyond == [] and body["total"] == 11
    done, _ = _titles(client, leader, "status=done")
    assert sorted(done) == ["任务00", "任务05"]
    owner, _ = _titles(client, leader, f"owner={world.user_ids['other']}")
    assert len(owner) == 5
    overdue, body = _titles(client, leader, "overdue=true")
    assert sorted(overdue) == ["任务01", "任务02"]  # open and due before today
    assert all(t["overdue"] for t in body["items"])
    searched, _ = _titles(client, leader, "q=任务0")
    assert len(searched) == 10
    capped = client.get("/api/v1/tasks?per_page=100000", headers=bearer(leader)).get_json()
    assert capped["per_page"] == 200
    due_to = (local_today("Asia/Shanghai") - timedelta(days=2)).isoformat()
    early, _ = _titles(client, leader, f"due_to={due_to}")
    assert sorted(early) == ["任务00", "任务01"]
    # Staff see only their own tasks in the same list.
    mine, body = _titles(client, tokens["lead"], "per_page=50")
    assert body["total"] == 6  # five of the ten plus the world's task


@pytest.mark.parametrize("query, field", [
    ("status=finished", "status"), ("page=0", "page"), ("page=abc", "page"),
    ("per_page=-5", "per_page"), ("plan=x", "plan"), ("overdue=maybe", "overdue"),
    ("due_from=31/03/2025", "due_from"), ("sort=title", "sort"), ("q=" + "长" * 101, "q"),
    ("owner=99999999999", "owner"),
])
def test_bad_filters_answer_400_naming_the_parameter(client, tokens, world, query, field):
    response = client.get(f"/api/v1/tasks?{query}", headers=bearer(tokens["leader"]))
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_huge_ids_in_urls_are_404_not_errors(client, tokens, world):
    response = client.get("/api/v1/tasks/99999999999999999999", headers=bearer(tokens["lead"]))
    assert response.status_code == 404


def _add_tasks(app, world, make_task, n, *, plan_node=None):
    from tracker.models import Department, NodeKind, Plan, PlanNode

    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        support = db.session.get(User, world.user_ids["support"])
        dept = db.session.get(Department, world.dept)
        plan = Plan(organization_id=org.id, title=f"计划{n}")
        db.session.add(plan)
        db.session.flush()
        node = PlanNode(plan_id=plan.id, position=1, label="一、", heading="教学",
                        kind=NodeKind.section)
        db.session.add(node)
        db.session.flush()
        for i in range(n):
            make_task(org, f"批量{n}-{i}", lead_user=lead, lead_department=dept,
                      supporting_users=[support], supporting_departments=[dept],
                      plan_id=plan.id, plan_node_id=node.id)
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("url, role", [("/api/v1/tasks?per_page=200", "leader"),
                                       ("/api/v1/tasks", "lead"),
                                       ("/api/v1/me/tasks", "lead"),
                                       ("/api/v1/plans", "lead")])
def test_list_endpoints_run_a_fixed_number_of_queries(app, client, tokens, world, make_task,
                                                       url, role):
    headers = bearer(tokens[role])
    client.get(url, headers=headers)  # token's last-used time recorded; not counted below
    _add_tasks(app, world, make_task, 2)
    with recorded_statements(app) as few:
        assert client.get(url, headers=headers).status_code == 200
    _add_tasks(app, world, make_task, 30)
    with recorded_statements(app) as more:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert len(more) == len(few), "\n".join(more)
