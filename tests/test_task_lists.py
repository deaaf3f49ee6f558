"""My tasks and the task list as cards: plan paths, occurrences, owners' rights, queries.

The lists read plain rows (``tasks.queries.TaskCard``) and build plan paths with recursive
queries; these tests pin what the pages print from them.
"""
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from tests.conftest import login, recorded_statements
from tracker import policy
from tracker.extensions import db
from tracker.models import Organization, Plan, PlanNode, Recurrence, Task, TaskStatus, User
from tracker.tasks import paths, queries


def _plan_with_path(app, world, task_id: int) -> int:
    """Put the world's task under 一、（一）1. of a new plan; return the measure's id."""
    with app.app_context():
        plan = Plan(organization_id=world.org, title="工作计划")
        top = PlanNode(plan=plan, position=0, label="一、", heading="教学工作", kind="section")
        mid = PlanNode(plan=plan, parent=top, position=1, label="（一）", heading="常规",
                       kind="section")
        leaf = PlanNode(plan=plan, parent=mid, position=2, label="1.", text="检查备课",
                        kind="measure")
        db.session.add_all([plan, top, mid, leaf])
        db.session.flush()
        task = db.session.get(Task, task_id)
        task.plan, task.plan_node = plan, leaf
        db.session.commit()
        return leaf.id


def test_plan_path_is_printed_on_my_tasks_the_list_and_the_task_page(client, app, world):
    _plan_with_path(app, world, world.task)
    login(client, world.emails["lead"])
    assert "一、（一）1." in client.get("/tasks/mine").get_data(as_text=True)
    assert "教学工作" in client.get(f"/tasks/{world.task}").get_data(as_text=True)
    login(client, world.emails["leader"])
    assert "一、（一）1." in client.get("/tasks/").get_data(as_text=True)


def test_a_cycle_in_damaged_plan_data_ends_the_path_queries(app, world):
    leaf_id = _plan_with_path(app, world, world.task)
    with app.app_context():
        leaf = db.session.get(PlanNode, leaf_id)
        top = leaf.parent.parent
        top.parent_id = leaf.id  # 一、 → 1. → （一） → 一、 …
        db.session.commit()
        task = db.session.get(Task, world.task)
        chain = paths.task_paths([task])[task.id]
        assert [n.label for n in chain][-1] == "1." and len(chain) == 3
        card = queries.cards_by_id([task.id])
        assert queries.plan_paths(card)[leaf_id]  # returns (depth-limited), no endless loop


def test_next_occurrence_is_the_earliest_dated_open_one(app, world, make_task):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        parent = make_task(org, "每周升旗", lead_user=lead, recurrence=Recurrence.weekly)
        soon = date.today() + timedelta(days=3)
        undated = make_task(org, "每周升旗（无日期）", lead_user=lead, parent_id=parent.id)
        undated.due_date = None
        first = make_task(org, "每周升旗 第1周", lead_user=lead, parent_id=parent.id, due=soon)
        make_task(org, "每周升旗 第1周b", lead_user=lead, parent_id=parent.id, due=soon)
        make_task(org, "每周升旗 第2周", lead_user=lead, parent_id=parent.id,
                  due=soon + timedelta(days=7))
        db.session.commit()
        nxt, counts = queries.occurrence_overview(queries.cards_by_id([parent.id]))
        assert nxt[parent.id].id == first.id  # dated before undated, then by id
        assert counts[parent.id] == (0, 4)
        first_task = db.session.get(Task, first.id)
        first_task.status = TaskStatus.done
        undated.status = TaskStatus.cancelled
        db.session.commit()
        nxt, counts = queries.occurrence_overview(queries.cards_by_id([parent.id]))
        assert nxt[parent.id].title == "每周升旗 第1周b"  # the earliest one still open
        assert counts[parent.id] == (1, 3)  # cancelled ones do not count
        for occurrence in db.session.execute(select(Task).where(Task.parent_id == parent.id)
                                             ).scalars():
            occurrence.status = TaskStatus.done
        db.session.commit()
        nxt, counts = queries.occurrence_overview(queries.cards_by_id([parent.id]))
        assert parent.id not in nxt and counts[parent.id] == (4, 4)  # nothing left to update
        for occurrence in db.session.execute(select(Task).where(Task.parent_id == parent.id)
                                             ).scalars():
            occurrence.status = TaskStatus.cancelled
        db.session.commit()
        nxt, counts = queries.occurrence_overview(queries.cards_by_id([parent.id]))
        assert nxt == {} and counts == {}  # all cancelled: no "0/0" to show


def test_supporting_owner_gets_note_only_form_and_the_task_page_form(client, app, world):
    login(client, world.emails["support"])
    page = client.get("/tasks/mine").get_data(as_text=True)
    assert f'href="/tasks/{world.task}#update-form"' in page
    assert 'data-may-update="0"' in page and 'data-may-update="1"' not in page
    detail = client.get(f"/tasks/{world.task}").get_data(as_text=True)
    assert 'id="update-form"' in detail and 'name="status"' not in detail


@pytest.mark.parametrize("path,role", [("/tasks/mine", "lead"), ("/tasks/", "leader")])
def test_query_count_is_fixed_with_plan_paths_and_occurrences(client, app, world, make_task,
                                                              path, role):
    """Like test_task_work's count test, but the tasks sit in a plan and recur, so the
    path, next-occurrence and occurrence-count queries run too."""
    leaf_id = _plan_with_path(app, world, world.task)

    def add(n):
        with app.app_context():
            org = db.session.get(Organization, world.org)
            lead = db.session.get(User, world.user_ids["lead"])
            leaf = db.session.get(PlanNode, leaf_id)
            for i in range(n):
                parent = make_task(org, f"每周任务{i}", lead_user=lead, plan_id=leaf.plan_id,
                                   plan_node_id=leaf.id, recurrence=Recurrence.weekly)
                for week in range(3):
                    make_task(org, f"每周任务{i} 第{week}周", lead_user=lead,
                              parent_id=parent.id, plan_id=leaf.plan_id,
                              due=date.today() + timedelta(days=7 * week))
            db.session.commit()

    login(client, world.emails[role])
    add(2)
    with recorded_statements(app) as small:
        client.get(path)
    add(20)
    with recorded_statements(app) as large:
        client.get(path)
    assert len(small) == len(large), \
        f"{path}: {len(small)} statements with 2 recurring measures, {len(large)} with 22"


def test_each_viewer_sees_only_their_own_tasks_in_turn_and_unbound_rule_fails(app, world):
    with app.app_context():
        lead = db.session.get(User, world.user_ids["lead"])
        other = db.session.get(User, world.user_ids["other"])
        for _ in range(2):  # the statements are shared and cached: bind per use
            mine = set(db.session.execute(policy.visible_tasks(lead)
                                          .with_only_columns(Task.id)).scalars())
            theirs = set(db.session.execute(policy.visible_tasks(other)
                                            .with_only_columns(Task.id)).scalars())
            assert world.task in mine and world.task not in theirs
        with pytest.raises(StatementError):
            db.session.execute(policy.visible_tasks_rule(False)).all()


def test_saving_an_occurrence_in_place_returns_its_measures_card(client, app, world,
                                                                 make_task):
    """My tasks shows a recurring measure as one card whose "Update" targets its next
    occurrence; the saved card that comes back is the measure's, with its count."""
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        parent = make_task(org, "每周升旗", lead_user=lead, recurrence=Recurrence.weekly)
        first = make_task(org, "每周升旗 第1周", lead_user=lead, parent_id=parent.id,
                          due=date.today() + timedelta(days=2))
        make_task(org, "每周升旗 第2周", lead_user=lead, parent_id=parent.id,
                  due=date.today() + timedelta(days=9))
        db.session.commit()
        parent_id, first_id = parent.id, first.id
    login(client, world.emails["lead"])
    response = client.post(f"/tasks/{first_id}/update",
                           data={"version": "1", "status": "done", "note": "完成"},
                           headers={"Accept": "application/json"})
    body = response.get_json()
    assert response.status_code == 200 and body["ok"]
    assert f'id="task-{parent_id}"' in body["card"] and " 1/2" in body["card"]


def test_conflict_answer_on_my_tasks_says_what_the_task_is_now(client, app, world):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, world.emails["lead"])
    headers = {"Accept": "application/json"}
    assert client.post(f"/tasks/{world.task}/update", headers=headers,
                       data={"version": "1", "status": "in_progress", "progress": "30"}
                       ).status_code == 200
    response = client.post(f"/tasks/{world.task}/update", headers=headers,
                           data={"version": "1", "status": "done", "note": "我的说明"})
    body = response.get_json()
    assert response.status_code == 409 and body["current"]["version"] == 2
    assert "(now: In progress, 30%)" in body["error"] and "save again" in body["error"]
