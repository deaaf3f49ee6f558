"""Task work through the pages: updates with evidence, conflicts, leaders' actions, recurrence."""
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import login, recorded_statements
from tests.test_access import png_bytes
from tracker.extensions import db
from tracker.models import (
    Acceptance,
    Attachment,
    Organization,
    Recurrence,
    Task,
    TaskEvent,
    TaskStatus,
    User,
)
from tracker.tasks import services


def _task(app, task_id) -> Task:
    with app.app_context():
        task = db.session.get(Task, task_id)
        db.session.expunge(task)
        return task


def _events(app, task_id) -> list[TaskEvent]:
    with app.app_context():
        return db.session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id)
                                  .order_by(TaskEvent.id)).scalars().all()


def _post_update(client, task_id, version=1, json=False, **data):
    payload = {"version": str(version), **data}
    headers = {"Accept": "application/json"} if json else {}
    return client.post(f"/tasks/{task_id}/update", data=payload, headers=headers,
                       content_type="multipart/form-data")


def test_owner_updates_status_note_and_photo(client, app, world):
    login(client, world.emails["lead"])
    response = _post_update(client, world.task, status="in_progress", progress="40",
                            note="已布置自查", files=[(io.BytesIO(png_bytes()), "现场照片.png")])
    assert response.status_code == 302
    task = _task(app, world.task)
    assert (task.status, task.progress, task.version) == (TaskStatus.in_progress, 40, 2)
    last = _events(app, world.task)[-1]
    assert last.changes == {"status": ["not_started", "in_progress"], "progress": [0, 40]}
    assert last.note == "已布置自查"
    with app.app_context():
        attachment = db.session.execute(select(Attachment)).scalar_one()
        assert attachment.original_name == "现场照片.png" and attachment.content_type == "image/png"
        attachment_id = attachment.id
    page = client.get(f"/tasks/{world.task}").get_data(as_text=True)
    assert f"/tasks/evidence/{attachment_id}/thumbnail" in page
    thumb = client.get(f"/tasks/evidence/{attachment_id}/thumbnail")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    original = client.get(f"/tasks/evidence/{attachment_id}")
    assert original.status_code == 200 and original.headers["X-Content-Type-Options"] == "nosniff"
    # Another staff member cannot fetch the file by id.
    client.post("/account/logout")
    login(client, world.emails["other"])
    assert client.get(f"/tasks/evidence/{attachment_id}").status_code == 404


def test_in_place_update_returns_the_new_card(client, app, world):
    login(client, world.emails["lead"])
    response = _post_update(client, world.task, json=True, status="done", note="完成")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] and body["version"] == 2 and f'id="task-{world.task}"' in body["card"]
    assert _task(app, world.task).progress == 100


def test_second_editor_gets_a_conflict_with_current_values_and_loses_nothing(client, app, world):
    login(client, world.emails["lead"])
    assert _post_update(client, world.task, status="in_progress", progress="30").status_code == 302
    # The same stale form (version 1) sent again:
    response = _post_update(client, world.task, json=True, version=1, status="done",
                            note="我的说明")
    assert response.status_code == 409
    body = response.get_json()
    assert body["current"] == {"status": "in_progress", "progress": 30, "version": 2}
    html = _post_update(client, world.task, version=1, status="done", note="我的说明")
    assert html.status_code == 409
    text = html.get_data(as_text=True)
    assert "我的说明" in text  # what the user typed is still in the form
    assert _task(app, world.task).status == TaskStatus.in_progress


@pytest.mark.parametrize("data,message", [
    ({"note": "x" * 1_000_000}, "5000"),
    ({"progress": "150"}, "100"),
    ({"files": [(io.BytesIO(b"MZ\x90\x00" + b"\x00" * 200), "photo.jpg")]}, "photo.jpg"),
])
def test_bad_input_is_refused_and_changes_nothing(client, app, world, data, message):
    login(client, world.emails["lead"])
    before = len(_events(app, world.task))
    response = _post_update(client, world.task, json=True, status="in_progress", **data)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert len(_events(app, world.task)) == before
    assert _task(app, world.task).status == TaskStatus.not_started


def test_file_over_the_limit_is_refused(client, app, world):
    app.config["EVIDENCE_MAX_BYTES"] = 1000
    login(client, world.emails["lead"])
    big = png_bytes(size=(400, 400), colour=(1, 2, 3)) + b"\x00" * 2000
    response = _post_update(client, world.task, json=True, note="大文件",
                            files=[(io.BytesIO(big), "big.png")])
    assert response.status_code == 400 and "MB" in response.get_json()["error"]
    assert len(_events(app, world.task)) == 0


def test_html_in_a_note_is_shown_as_text(client, app, world):
    login(client, world.emails["lead"])
    _post_update(client, world.task, note='<script>alert("x")</script><b>粗</b>')
    page = client.get(f"/tasks/{world.task}").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;" in page


def test_supporting_owner_may_add_a_note_but_not_change_status(client, app, world):
    login(client, world.emails["support"])
    response = _post_update(client, world.task, status="done", progress="100", note="已配合")
    assert response.status_code == 302
    task = _task(app, world.task)
    assert task.status == TaskStatus.not_started and task.progress == 0
    assert _events(app, world.task)[-1].note == "已配合"


def test_other_staff_cannot_update(client, app, world):
    login(client, world.emails["other"])
    assert _post_update(client, world.task, status="done").status_code == 404


def test_staff_cannot_cancel_their_own_task(client, app, world):
    login(client, world.emails["lead"])
    response = _post_update(client, world.task, json=True, status="cancelled")
    assert response.status_code == 400
    assert _task(app, world.task).status == TaskStatus.not_started


def test_acceptance_accept_and_send_back(client, app, world):
    with app.app_context():
        db.session.get(Organization, world.org).requires_acceptance = True
        db.session.commit()
    login(client, world.emails["lead"])
    _post_update(client, world.task, status="done", note="完成")
    assert _task(app, world.task).acceptance == Acceptance.pending
    client.post("/account/logout")
    login(client, world.emails["leader"])
    version = _task(app, world.task).version
    response = client.post(f"/tasks/{world.task}/acceptance",
                           data={"version": version, "send_back": "1", "note": ""})
    assert _task(app, world.task).acceptance == Acceptance.pending  # a reason is required
    client.post(f"/tasks/{world.task}/acceptance",
                data={"version": version, "send_back": "1", "note": "缺少照片"})
    task = _task(app, world.task)
    assert (task.status, task.acceptance) == (TaskStatus.in_progress, Acceptance.rejected)
    client.post("/account/logout")
    login(client, world.emails["lead"])
    _post_update(client, world.task, version=task.version, status="done", note="补充照片")
    client.post("/account/logout")
    login(client, world.emails["leader"])
    response = client.post(f"/tasks/{world.task}/acceptance",
                           data={"version": _task(app, world.task).version, "accept": "1"})
    assert response.status_code == 302
    assert _task(app, world.task).acceptance == Acceptance.accepted
    kinds = [e.kind for e in _events(app, world.task)]
    assert kinds == ["updated", "sent_back", "updated", "accepted"]


def test_staff_cannot_accept(client, app, world):
    login(client, world.emails["lead"])
    assert client.post(f"/tasks/{world.task}/acceptance",
                       data={"accept": "1"}).status_code == 403


def test_leader_bulk_assign_due_date_and_cancel(client, app, world, make_task):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        second = make_task(org, "第二项", start_date=date(2025, 3, 1)).id
        db.session.commit()
    login(client, world.emails["leader"])
    response = client.post("/tasks/bulk", data={
        "task": [world.task, second], "action": "assign",
        "lead_user": world.user_ids["other"], "lead_department": "0"})
    assert response.status_code == 302
    assert _task(app, second).lead_user_id == world.user_ids["other"]
    client.post("/tasks/bulk", data={"task": [second], "action": "due", "due_date": "2025-02-01"})
    assert _task(app, second).due_date != date(2025, 2, 1)  # before its start: refused
    client.post("/tasks/bulk", data={"task": [world.task, second], "action": "cancel", "note": ""})
    assert _task(app, second).status != TaskStatus.cancelled  # a reason is required
    client.post("/tasks/bulk", data={"task": [world.task, second], "action": "cancel",
                                     "note": "上级调整"})
    assert _task(app, second).status == TaskStatus.cancelled
    assert _events(app, second)[-1].note == "上级调整"


def test_refused_bulk_action_shows_the_list_again_with_the_input_kept(client, app, world):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, world.emails["leader"])
    response = client.post("/tasks/bulk", data={
        "task": [world.task], "action": "due", "note": "按教育局通知调整"})  # no date chosen
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Choose the new due date." in page
    assert "按教育局通知调整" in page  # the note as typed
    assert f'value="{world.task}" aria-label="Select" checked' in page  # still selected
    none = client.post("/tasks/bulk", data={"action": "cancel", "note": "写好的理由"})
    assert none.status_code == 400 and "写好的理由" in none.get_data(as_text=True)
    assert _task(app, world.task).status == TaskStatus.not_started


def test_a_refused_bulk_action_on_page_two_stays_on_page_two(client, app, world, make_task):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        for n in range(55):  # a second page of the list (50 a page)
            make_task(org, f"第{n}项", due=date.today() + timedelta(days=n + 20))
        db.session.commit()
    login(client, world.emails["leader"])
    listed = client.get("/tasks/?sort=due&page=2").get_data(as_text=True)
    assert 'action="/tasks/bulk?sort=due&amp;page=2"' in listed
    response = client.post("/tasks/bulk?sort=due&page=2", data={
        "task": [world.task], "action": "due", "note": "改期"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "第54项" in page and "第0项" not in page
    assert 'class="page-item active"' in page and '>2</a>' in page


def test_a_bulk_action_that_empties_the_last_page_lands_on_the_page_before(client, app,
                                                                           world, make_task):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        ids = [make_task(org, f"第{n}项", due=date.today() + timedelta(days=n + 20)).id
               for n in range(55)]
        db.session.commit()
    login(client, world.emails["leader"])
    last = ids[-6:]  # with the world's own task, the list's second page holds these six
    response = client.post("/tasks/bulk?status=not_started&page=2", data={
        "task": last, "action": "cancel", "note": "合并到其他任务"})
    assert response.status_code == 302
    landed = client.get(response.headers["Location"])
    assert landed.status_code == 302 and "page=1" in landed.headers["Location"]
    assert "status=not_started" in landed.headers["Location"]
    page = client.get(landed.headers["Location"]).get_data(as_text=True)
    assert "第48项" in page and "第49项" not in page


def test_bulk_refuses_other_organisations_and_staff(client, app, world):
    login(client, world.emails["leader"])
    response = client.post("/tasks/bulk", data={"task": [world.foreign_task], "action": "cancel",
                                                 "note": "x"})
    assert response.status_code == 404
    client.post("/account/logout")
    login(client, world.emails["lead"])
    assert client.post("/tasks/bulk", data={"task": [world.task], "action": "cancel",
                                            "note": "x"}).status_code == 403


def test_recurring_measure_occurrences_roll_up(app, world, make_term):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        term = make_term(org, start=date(2025, 3, 3), mid=date(2025, 4, 14),
                         end=date(2025, 4, 25))
        task = db.session.get(Task, world.task)
        task.recurrence = Recurrence.weekly
        assert services.ensure_occurrences(task, term) == 8
        assert services.ensure_occurrences(task, term) == 0  # idempotent
        db.session.commit()
        children = db.session.execute(select(Task).where(Task.parent_id == task.id)
                                      .order_by(Task.due_date)).scalars().all()
        lead = db.session.get(User, world.user_ids["lead"])
        for child in children[:2]:
            services.update_progress(child, lead, expected_version=child.version,
                                     status=TaskStatus.done)
        db.session.commit()
        parent = db.session.get(Task, world.task)
        assert (parent.status, parent.progress) == (TaskStatus.in_progress, 25)


def _count_queries(app, fn) -> int:
    with recorded_statements(app) as statements:
        fn()
    return len(statements)


@pytest.mark.parametrize("path,role", [("/tasks/mine", "lead"), ("/tasks/", "leader")])
def test_query_count_does_not_grow_with_tasks(client, app, world, make_task, path, role):
    login(client, world.emails[role])

    def add(n):
        with app.app_context():
            org = db.session.get(Organization, world.org)
            lead = db.session.get(User, world.user_ids["lead"])
            for i in range(n):
                make_task(org, f"任务{i}", lead_user=lead,
                          due=date.today() + timedelta(days=i % 20),
                          supporting_departments=list(lead.departments))
            db.session.commit()

    add(3)
    small = _count_queries(app, lambda: client.get(path))
    add(40)
    large = _count_queries(app, lambda: client.get(path))
    assert small == large, f"{path}: {small} queries with 4 tasks, {large} with 44"


def test_my_tasks_carries_one_update_form_and_links_work_without_script(client, app, world,
                                                                         make_task):
    """One shared form for the page (moved into a card by tasks.js), not one per card; each
    card's "Update" is a link to the task page's own form, so it works without JavaScript."""
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        ids = [make_task(org, f"任务{i}", lead_user=lead).id for i in range(5)]
        db.session.commit()
    login(client, world.emails["lead"])
    page = client.get("/tasks/mine").get_data(as_text=True)
    assert page.count('<form class="quick-update') == 1
    assert page.count('name="csrf_token"') == 3  # the shared form, language switch, log out
    for task_id in ids + [world.task]:
        assert f'href="/tasks/{task_id}#update-form"' in page
    detail = client.get(f"/tasks/{ids[0]}").get_data(as_text=True)
    assert 'id="update-form"' in detail and f'action="/tasks/{ids[0]}/update"' in detail


def test_my_tasks_card_escapes_titles_and_names(client, app, world, make_task):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        lead.name = "<b>张三</b>"
        make_task(org, "<script>alert(1)</script>", lead_user=lead)
        db.session.commit()
    login(client, world.emails["lead"])
    page = client.get("/tasks/mine").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    assert "<b>张三</b>" not in page and "&lt;b&gt;张三&lt;/b&gt;" in page


def test_section_and_stale_filters(client, app, world):
    from tracker.models import Plan, PlanNode

    with app.app_context():
        plan = Plan(organization_id=world.org, title="计划")
        top = PlanNode(plan=plan, position=0, label="一、", heading="教学", kind="section")
        leaf = PlanNode(plan=plan, parent=top, position=1, label="1.", heading="常规",
                        kind="measure")
        db.session.add_all([plan, top, leaf])
        db.session.flush()
        task = db.session.get(Task, world.task)
        task.plan, task.plan_node = plan, leaf
        db.session.commit()
        top_id = top.id
    login(client, world.emails["leader"])
    page = client.get(f"/tasks/?section={top_id}").get_data(as_text=True)
    assert "开展教学常规检查" in page
    assert "开展教学常规检查" not in client.get("/tasks/?stale=1").get_data(as_text=True)
    assert client.get("/tasks/?section=999999").status_code == 404


def test_leader_edits_a_task_and_the_history_says_what_changed(client, app, world, make_term):
    with app.app_context():
        from tracker.models import Plan

        org = db.session.get(Organization, world.org)
        term = make_term(org, start=date(2025, 3, 3), mid=date(2025, 4, 14),
                         end=date(2025, 4, 25))
        plan = Plan(organization_id=world.org, title="计划", term=term)
        db.session.add(plan)
        db.session.get(Task, world.task).plan = plan
        db.session.commit()
    login(client, world.emails["leader"])
    assert client.get(f"/tasks/{world.task}/edit").status_code == 200
    base = {"title": "开展教学常规检查", "lead_user": world.user_ids["lead"],
            "lead_department": "0", "version": str(_task(app, world.task).version),
            "recurrence": ""}
    response = client.post(f"/tasks/{world.task}/edit", data={
        **base, "start_date": "2025-03-10", "due_date": "2025-03-01"})
    assert response.status_code == 200  # due before start: refused, form shown again
    assert _task(app, world.task).due_date != date(2025, 3, 1)
    response = client.post(f"/tasks/{world.task}/edit", data={
        **base, "start_date": "2025-03-03", "due_date": "2025-04-25", "recurrence": "weekly",
        "supporting_users": [world.user_ids["other"]], "target_text": "每周检查一次"})
    assert response.status_code == 302
    last = _events(app, world.task)[-1]
    assert last.kind == "edited" and last.changes["recurrence"] == [None, "weekly"]
    with app.app_context():
        children = db.session.execute(select(func.count()).select_from(Task).where(
            Task.parent_id == world.task)).scalar()
        assert children == 8
    # The other staff member now supports the task and can see it.
    client.post("/account/logout")
    login(client, world.emails["other"])
    assert client.get(f"/tasks/{world.task}").status_code == 200


def test_unassigned_task_shows_for_its_supporting_owner(client, app, world, make_task):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        support = db.session.get(User, world.user_ids["support"])
        make_task(org, "无人牵头的任务", supporting_users=[support])
        db.session.commit()
    login(client, world.emails["support"])
    page = client.get("/tasks/mine").get_data(as_text=True)
    assert "无人牵头的任务" in page


def test_supporters_of_a_recurring_measure_can_open_its_occurrences(client, app, world, make_term):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        term = make_term(org, start=date(2025, 3, 3), mid=date(2025, 4, 14),
                         end=date(2025, 4, 25))
        task = db.session.get(Task, world.task)
        task.recurrence = Recurrence.weekly
        services.ensure_occurrences(task, term)
        db.session.commit()
        first = db.session.execute(select(Task.id).where(Task.parent_id == task.id)
                                   .order_by(Task.due_date)).scalars().first()
    login(client, world.emails["support"])
    assert client.get(f"/tasks/{first}").status_code == 200
    # A supporter added later reaches the open occurrences too.
    client.post("/account/logout")
    login(client, world.emails["leader"])
    client.post(f"/tasks/{world.task}/edit", data={
        "title": "开展教学常规检查", "lead_user": world.user_ids["lead"], "lead_department": "0",
        "recurrence": "weekly", "supporting_users": [world.user_ids["support"],
                                                     world.user_ids["other"]],
        "version": str(_task(app, world.task).version)})
    client.post("/account/logout")
    login(client, world.emails["other"])
    assert client.get(f"/tasks/{first}").status_code == 200
