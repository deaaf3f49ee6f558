"""A recurring measure and its occurrences stay consistent whoever acts on which.

The measure's progress and status follow its occurrences as the dashboards count them
(``tracker.stats``): cancelled occurrences not at all, and where the school requires
acceptance (验收) only accepted ones as complete. A leader's decision on the measure
(cancelling it, a new owner) reaches its open occurrences, each with its own history;
what is done stays as it was.
"""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from tests.conftest import login
from tracker import stats
from tracker.extensions import db
from tracker.models import (
    Acceptance,
    Department,
    Organization,
    Plan,
    Recurrence,
    Task,
    TaskEvent,
    TaskStatus,
    Term,
    User,
)
from tracker.tasks import services

TERM = (date(2025, 3, 3), date(2025, 6, 27))
REASON = "上级调整，本学期不再开展"


@pytest.fixture
def measure(app, world, make_term, make_task):
    """A monthly measure of the world's lead owner (and 教务处) in a plan of a four-month
    term, with its occurrences for March to June: (measure id, occurrence ids, plan id)."""
    with app.app_context():
        org = db.session.get(Organization, world.org)
        term = make_term(org, start=TERM[0], mid=date(2025, 4, 28), end=TERM[1])
        plan = Plan(organization_id=org.id, title="教学工作计划", term=term)
        db.session.add(plan)
        db.session.flush()
        task = make_task(org, "每月开展一次教研活动", plan_id=plan.id, due=TERM[1],
                         lead_user=db.session.get(User, world.user_ids["lead"]),
                         lead_department=db.session.get(Department, world.dept),
                         recurrence=Recurrence.monthly)
        assert services.ensure_occurrences(task, term) == 4
        db.session.commit()
        ids = db.session.execute(select(Task.id).where(Task.parent_id == task.id)
                                 .order_by(Task.due_date)).scalars().all()
        result = task.id, ids, plan.id
        db.session.remove()
        return result


def _client(app, world, role):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, world.emails[role])
    return client


def _tasks(app, *ids) -> dict[int, Task]:
    with app.app_context():
        tasks = {t.id: t for t in db.session.execute(select(Task).where(Task.id.in_(ids)))
                 .scalars()}
        for task in tasks.values():
            db.session.expunge(task)
        return tasks


def _figures(app, task_id) -> tuple:
    task = _tasks(app, task_id)[task_id]
    return task.status, task.progress


def _events(app, task_id) -> list[TaskEvent]:
    with app.app_context():
        return db.session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id)
                                  .order_by(TaskEvent.id)).scalars().all()


def _update(client, app, task_id, **data):
    version = _tasks(app, task_id)[task_id].version
    return client.post(f"/tasks/{task_id}/update", data={"version": str(version), **data})


def _decide(client, app, task_id, *, accept: bool, note: str = ""):
    version = _tasks(app, task_id)[task_id].version
    button = {"accept": "1"} if accept else {"send_back": "1"}
    return client.post(f"/tasks/{task_id}/acceptance",
                       data={"version": str(version), "note": note, **button})


def _bulk(client, *task_ids, **data):
    response = client.post("/tasks/bulk", data={"task": list(task_ids), **data})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def _require_acceptance(app, world, required=True):
    with app.app_context():
        db.session.get(Organization, world.org).requires_acceptance = required
        db.session.commit()


def _dashboard_progress(app, world, plan_id) -> int:
    """The measure's completion as the dashboards compute it, in percent."""
    with app.app_context():
        org = db.session.get(Organization, world.org)
        scope = stats.Scope(orgs=(stats.org_info(org),), start=TERM[0], end=TERM[1],
                            now=datetime(2025, 4, 10, tzinfo=timezone.utc), plan_id=plan_id)
        rate = stats.totals(db.session, scope).completion_rate
        return round(100 * rate)


# Cancelling -------------------------------------------------------------------------

def test_cancelling_a_measure_cancels_its_open_occurrences_and_keeps_the_done_one(
        app, world, measure):
    parent, (march, april, may, june), plan_id = measure
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    assert _update(owner, app, march, status="done", note="三月教研已开展").status_code == 302
    assert _update(owner, app, april, status="in_progress").status_code == 302

    _bulk(leader, parent, action="cancel", note=REASON)

    tasks = _tasks(app, parent, march, april, may, june)
    assert tasks[parent].status == TaskStatus.cancelled
    assert tasks[march].status == TaskStatus.done  # what was achieved stays
    for occurrence in (april, may, june):
        assert tasks[occurrence].status == TaskStatus.cancelled
        last = _events(app, occurrence)[-1]
        assert (last.kind, last.note, last.actor_id) == ("cancelled", REASON,
                                                         world.user_ids["leader"])
        assert last.changes["status"][1] == "cancelled"
    assert _events(app, april)[-1].changes["status"] == ["in_progress", "cancelled"]
    assert [e.kind for e in _events(app, march)] == ["created", "updated"]
    # Nothing of the measure is left open for the dashboards or the reminders.
    assert _dashboard_progress(app, world, plan_id) == 100  # the one left counted: done


def test_an_owner_cannot_revive_a_cancelled_occurrence_nor_its_measure(app, world, measure):
    parent, (march, april, *_), _plan = measure
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    _bulk(leader, parent, action="cancel", note=REASON)
    before = _figures(app, parent)

    response = _update(owner, app, april, status="done", note="已开展")
    assert response.status_code == 400
    assert "was cancelled" in response.get_data(as_text=True)
    api_like = owner.post(f"/tasks/{april}/update", headers={"Accept": "application/json"},
                          data={"version": str(_tasks(app, april)[april].version),
                                "progress": "60"})
    assert api_like.status_code == 400 and "was cancelled" in api_like.get_json()["error"]
    owner.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "该任务已取消" in _update(owner, app, april, status="done").get_data(as_text=True)
    assert _figures(app, april) == (TaskStatus.cancelled, 0)
    assert _figures(app, parent) == before

    # A note (what happened anyway) is still welcome, and changes no figure.
    assert _update(owner, app, april, status="cancelled", note="已按通知停止").status_code == 302
    assert _events(app, april)[-1].note == "已按通知停止"
    assert _figures(app, april) == (TaskStatus.cancelled, 0)


def test_the_roll_up_leaves_a_cancelled_measure_as_the_leader_left_it(app, world, measure):
    """Even with an occurrence left open (cancelled before occurrences followed their
    measure, say): completing it changes the occurrence, not the cancelled measure."""
    parent, (march, *_), _plan = measure
    with app.app_context():
        task = db.session.get(Task, parent)
        task.status = TaskStatus.cancelled
        db.session.commit()
    owner = _client(app, world, "lead")
    assert _update(owner, app, march, status="done", note="已开展").status_code == 302
    assert _figures(app, march) == (TaskStatus.done, 100)
    assert _figures(app, parent) == (TaskStatus.cancelled, 0)


def test_a_cancelled_measure_gets_no_new_occurrences(app, world, measure):
    parent, occurrences, _plan = measure
    with app.app_context():
        task = db.session.get(Task, parent)
        task.status = TaskStatus.cancelled
        task.recurrence = Recurrence.weekly
        assert services.ensure_occurrences(task, db.session.execute(select(Term)).scalar()) == 0


def test_cancelling_occurrences_rolls_up(app, world, measure):
    parent, (march, april, may, june), plan_id = measure
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    for occurrence in (march, april):
        _update(owner, app, occurrence, status="done", note="已开展")
    assert _figures(app, parent) == (TaskStatus.in_progress, 50)

    _bulk(leader, may, action="cancel", note="五月停课")
    assert _figures(app, parent) == (TaskStatus.in_progress, 67)  # 2 of the 3 left
    assert _dashboard_progress(app, world, plan_id) == 67
    _bulk(leader, june, action="cancel", note="六月合并到期末")
    assert _figures(app, parent) == (TaskStatus.done, 100)
    assert _tasks(app, parent)[parent].completed_at is not None


def test_cancelling_the_only_started_occurrence_puts_the_measure_back_to_not_started(
        app, world, measure):
    parent, (march, *_), _plan = measure
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    _update(owner, app, march, status="in_progress", note="筹备中")
    assert _figures(app, parent) == (TaskStatus.in_progress, 0)
    _bulk(leader, march, action="cancel", note="三月不开展")
    assert _figures(app, parent) == (TaskStatus.not_started, 0)


# Acceptance ---------------------------------------------------------------------------

def test_where_acceptance_is_required_only_accepted_occurrences_count(app, world, measure):
    parent, (march, april, may, june), plan_id = measure
    _require_acceptance(app, world)
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    _update(owner, app, march, status="done", note="三月教研已开展")
    # Done, not yet accepted: started, not complete (as the dashboards count it).
    assert _figures(app, parent) == (TaskStatus.in_progress, 0)
    assert _dashboard_progress(app, world, plan_id) == 0

    assert _decide(leader, app, march, accept=True).status_code == 302
    assert _figures(app, parent) == (TaskStatus.in_progress, 25)
    assert _dashboard_progress(app, world, plan_id) == 25

    for occurrence in (april, may, june):
        _update(owner, app, occurrence, status="done", note="已开展")
    assert _figures(app, parent) == (TaskStatus.in_progress, 25)  # all done, three waiting
    _decide(leader, app, april, accept=True)
    _decide(leader, app, may, accept=True)
    assert _decide(leader, app, june, accept=False, note="缺少活动照片").status_code == 302
    assert _tasks(app, june)[june].acceptance == Acceptance.rejected
    assert _figures(app, parent) == (TaskStatus.in_progress, 75)
    assert _dashboard_progress(app, world, plan_id) == 75

    _update(owner, app, june, status="done", note="补充照片")
    _decide(leader, app, june, accept=True)
    assert _figures(app, parent) == (TaskStatus.done, 100)
    assert _tasks(app, parent)[parent].acceptance == Acceptance.not_required  # its own


def test_sending_an_occurrence_back_rolls_up(app, world, measure):
    """A school that stops requiring acceptance counts its done occurrences as complete,
    also those still marked for acceptance; a leader may still send one of them back,
    and the measure no longer counts it."""
    parent, (march, april, *_), plan_id = measure
    _require_acceptance(app, world)
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    _update(owner, app, march, status="done", note="三月教研已开展")
    _update(owner, app, april, status="done", note="四月教研已开展")
    _require_acceptance(app, world, False)
    _decide(leader, app, march, accept=True)
    assert _figures(app, parent) == (TaskStatus.in_progress, 50)
    assert _dashboard_progress(app, world, plan_id) == 50

    assert _decide(leader, app, april, accept=False, note="记录不全").status_code == 302
    assert _figures(app, april) == (TaskStatus.in_progress, 100)
    assert _figures(app, parent) == (TaskStatus.in_progress, 25)
    assert _dashboard_progress(app, world, plan_id) == 25


# A new owner, a new due date ------------------------------------------------------------

def test_assigning_a_measure_passes_the_new_owner_to_its_open_occurrences(app, world, measure):
    parent, (march, april, may, june), _plan = measure
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    _update(owner, app, march, status="done", note="三月教研已开展")
    _bulk(leader, april, action="cancel", note="四月停课")
    with app.app_context():
        other_dept = db.session.execute(select(Department.id).where(
            Department.name == "德育处")).scalar_one()
        names = [db.session.get(User, world.user_ids[role]).name for role in ("lead", "other")]
    history = {t: len(_events(app, t)) for t in (march, april)}

    _bulk(leader, parent, action="assign", lead_user=world.user_ids["other"],
          lead_department=other_dept, note="工作调整，改由德育处牵头")

    tasks = _tasks(app, parent, march, april, may, june)
    for task_id in (parent, may, june):
        assert (tasks[task_id].lead_user_id, tasks[task_id].lead_department_id) == (
            world.user_ids["other"], other_dept)
    for occurrence in (may, june):
        last = _events(app, occurrence)[-1]
        assert (last.kind, last.note) == ("assigned", "工作调整，改由德育处牵头")
        assert last.changes == {"lead_user": names, "lead_department": ["教务处", "德育处"]}
    # Done and cancelled occurrences keep the owner they had, and their history.
    for occurrence in (march, april):
        assert tasks[occurrence].lead_user_id == world.user_ids["lead"]
        assert len(_events(app, occurrence)) == history[occurrence]

    # The new owner can work on the open occurrences; the former one no longer.
    new_owner = _client(app, world, "other")
    assert _update(new_owner, app, may, status="done", note="五月教研已开展").status_code == 302
    assert _figures(app, parent) == (TaskStatus.in_progress, 67)
    assert _update(owner, app, june, status="done", note="x").status_code == 404


def test_a_measure_keeps_its_occurrence_dates_when_its_due_date_moves(app, world, measure):
    """Each occurrence is due at the end of its own period (its month here): moving the
    measure's due date, in bulk or by editing it, does not move them."""
    parent, occurrences, _plan = measure
    before = {t.id: t.due_date for t in _tasks(app, *occurrences).values()}
    leader = _client(app, world, "leader")
    _bulk(leader, parent, action="due", due_date="2025-06-20", note="提前结束")
    assert _tasks(app, parent)[parent].due_date == date(2025, 6, 20)
    assert {t.id: t.due_date for t in _tasks(app, *occurrences).values()} == before
    assert all(len(_events(app, t)) == 1 for t in occurrences)  # only "created"


def test_editing_a_measures_owners_leaves_history_on_its_open_occurrences(app, world, measure):
    parent, (march, april, *_), _plan = measure
    owner, leader = _client(app, world, "lead"), _client(app, world, "leader")
    _update(owner, app, march, status="done", note="三月教研已开展")
    response = leader.post(f"/tasks/{parent}/edit", data={
        "title": "每月开展一次教研活动", "lead_user": world.user_ids["other"],
        "lead_department": world.dept, "recurrence": "monthly",
        "start_date": "", "due_date": TERM[1].isoformat(),
        "supporting_users": [world.user_ids["support"]], "note": "换人负责",
        "version": str(_tasks(app, parent)[parent].version)})
    assert response.status_code == 302, response.get_data(as_text=True)
    april_task = _tasks(app, april)[april]
    assert april_task.lead_user_id == world.user_ids["other"]
    last = _events(app, april)[-1]
    assert (last.kind, last.note, last.actor_id) == ("edited", "换人负责",
                                                     world.user_ids["leader"])
    assert set(last.changes) == {"lead_user", "supporting_users"}
    assert _tasks(app, march)[march].lead_user_id == world.user_ids["lead"]
    assert [e.kind for e in _events(app, march)] == ["created", "updated"]
