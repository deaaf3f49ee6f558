"""Bulk actions against a concurrent change: all or nothing, a named conflict, nothing lost.

Two ways a change can meet a bulk action: between the leader loading the list and
posting it (every backend), and between the bulk request reading the tasks and locking
them (PostgreSQL: READ COMMITTED lets another transaction commit in between; SQLite's
``BEGIN IMMEDIATE`` holds the write lock from the request's first statement). And on
PostgreSQL, two changes taking the same rows in different orders could deadlock: the
last test races an owner's update of an occurrence against a bulk action on it and its
measure.
"""
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from tests.conftest import _admin_connect, login
from tracker.extensions import db
from tracker.models import (
    Acceptance,
    Organization,
    Recurrence,
    Task,
    TaskEvent,
    TaskStatus,
    User,
)
from tracker.tasks import services

INPUT = re.compile(r'<input[^>]*name="(task|version-\d+)"[^>]*value="([^"]*)"')


def _selection(page: str, *task_ids: int) -> dict:
    """What a browser posts after ticking these tasks on the list page."""
    ticked, versions = [], {}
    for name, value in INPUT.findall(page):
        if name == "task" and int(value) in task_ids:
            ticked.append(value)
        elif name.startswith("version-") and int(name.split("-")[1]) in task_ids:
            versions[name] = value
    assert len(ticked) == len(task_ids)
    return {"task": ticked, **versions}


def _state(app, *task_ids):
    with app.app_context():
        tasks = {t.id: (t.status, t.progress, t.version) for t in db.session.execute(
            select(Task).where(Task.id.in_(task_ids))).scalars()}
        cancelled = db.session.execute(select(TaskEvent.task_id).where(
            TaskEvent.kind == "cancelled")).scalars().all()
        db.session.remove()
    return tasks, cancelled


@pytest.fixture
def second(app, world, make_task):
    with app.app_context():
        task = make_task(db.session.get(Organization, world.org), "第二项",
                         start_date=date(2025, 3, 1))
        db.session.commit()
        return task.id


def test_bulk_on_a_task_changed_since_the_list_was_loaded(client, app, world, second):
    login(client, world.emails["leader"])
    selection = _selection(client.get("/tasks/").get_data(as_text=True), world.task, second)
    owner = app.test_client()
    login(owner, world.emails["lead"])
    assert owner.post(f"/tasks/{world.task}/update", data={
        "version": "1", "status": "done", "note": "已完成"}).status_code == 302

    response = client.post("/tasks/bulk", data={**selection, "action": "cancel",
                                                "note": "上级调整，本学期不再开展"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    # The message names the task that changed (titles are quoted only there), not the other.
    assert "“开展教学常规检查”" in page and "“第二项”" not in page
    assert "上级调整，本学期不再开展" in page  # the note is still in the form
    assert re.search(rf'name="task" value="{second}"[^>]*checked', page)
    tasks, cancelled = _state(app, world.task, second)
    assert tasks[world.task][0] == TaskStatus.done  # the owner's change stays
    assert tasks[second][0] == TaskStatus.not_started and not cancelled  # nothing applied

    # The page shown carries the current versions: sent again, it applies.
    again = client.post("/tasks/bulk", data={**_selection(page, world.task, second),
                                             "action": "cancel", "note": "上级调整"})
    assert again.status_code == 302
    tasks, cancelled = _state(app, world.task, second)
    assert {s for s, _, _ in tasks.values()} == {TaskStatus.cancelled}
    assert sorted(cancelled) == sorted([world.task, second])


@pytest.mark.parametrize("action", [{"action": "cancel", "note": "上级调整"},
                                    {"action": "due", "due_date": "2025-06-30"}])
def test_bulk_racing_a_concurrent_update_is_a_conflict_not_a_500(client, app, world, second,
                                                                 action):
    """Another update commits after the bulk request read the tasks and before it writes."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("SQLite: the bulk request holds the write lock from its first statement "
                    "(BEGIN IMMEDIATE), so no other writer can commit between its read and "
                    "its write; set TEST_DATABASE_URL to run this on PostgreSQL")
    login(client, world.emails["leader"])
    with app.app_context():
        engine = db.engine
    done = []

    def other_writer(conn, cursor, statement, *args):
        # Before the bulk request locks the tasks it read (or writes them, where it does
        # not lock): once locked, the other writer would wait for it.
        if done or not (statement.startswith("UPDATE tasks SET")
                        or "FOR NO KEY UPDATE" in statement):
            return
        done.append(statement)
        with _admin_connect(make_url(url)) as other:  # its own connection, committed
            other.execute("UPDATE tasks SET progress = 55, version = version + 1 "
                          "WHERE id = %s", (world.task,))

    event.listen(engine, "before_cursor_execute", other_writer)
    try:
        response = client.post("/tasks/bulk", data={"task": [world.task, second], **action})
    finally:
        event.remove(engine, "before_cursor_execute", other_writer)
    assert done
    assert response.status_code == 409
    assert "“开展教学常规检查”" in response.get_data(as_text=True)
    tasks, cancelled = _state(app, world.task, second)
    assert tasks[world.task][1:] == (55, 2)  # the other change stays
    assert tasks[world.task][0] == tasks[second][0] == TaskStatus.not_started
    assert not cancelled
    with app.app_context():
        assert db.session.get(Task, second).due_date != date(2025, 6, 30)
        assert db.session.execute(select(TaskEvent).where(
            TaskEvent.kind == "assigned")).first() is None


@pytest.fixture
def recurring(app, world, make_task):
    """The world's lead owner's monthly measure and its two occurrences: ids only."""
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        parent = make_task(org, "每月开展一次教研", lead_user=lead, recurrence=Recurrence.monthly)
        first, second_ = (make_task(org, f"每月开展一次教研（{m}月）", lead_user=lead,
                                    parent_id=parent.id, due=date(2025, m, 28)) for m in (3, 4))
        db.session.commit()
        return parent.id, first.id, second_.id


def _waiting_on_a_lock(url: str) -> bool:
    with _admin_connect(make_url(url)) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'").fetchone()[0] > 0


def _done_awaiting_acceptance(app, world, occurrence: int) -> None:
    with app.app_context():
        db.session.get(Organization, world.org).requires_acceptance = True
        services.update_progress(db.session.get(Task, occurrence),
                                 db.session.get(User, world.user_ids["lead"]),
                                 expected_version=None, status=TaskStatus.done)
        db.session.commit()
        db.session.remove()


def _version(app, task_id: int) -> str:
    with app.app_context():
        version = str(db.session.get(Task, task_id).version)
        db.session.remove()
        return version


@dataclass(frozen=True)
class LeaderAction:
    """A leader's change that writes an occurrence and its measure (in either order),
    raced against the owner's update of that occurrence: what it posts, the history
    event it leaves, and its answer when it comes second (its change not applied)."""

    kind: str
    post: Callable  # (client, world, parent, occurrence, version) → response
    refused: int = 409
    awaiting_acceptance: bool = False  # the occurrence is done, waiting for a leader


LEADER_ACTIONS = {
    "cancel measure and occurrence": LeaderAction("cancelled", lambda c, w, p, o, v: c.post(
        "/tasks/bulk", data={"task": [p, o], "action": "cancel",
                             "note": "上级调整，本学期不再开展"})),
    "cancel measure": LeaderAction("cancelled", lambda c, w, p, o, v: c.post(
        "/tasks/bulk", data={"task": [p], "action": "cancel", "note": "上级调整"})),
    "cancel occurrence": LeaderAction("cancelled", lambda c, w, p, o, v: c.post(
        "/tasks/bulk", data={"task": [o], "action": "cancel", "note": "三月不开展"})),
    # A lead department added, the lead owner kept (who would otherwise no longer see
    # the occurrence: a 404, not the conflict this test is about).
    "assign measure": LeaderAction("assigned", lambda c, w, p, o, v: c.post(
        "/tasks/bulk", data={"task": [p], "action": "assign", "lead_user": "0",
                             "lead_department": w.dept})),
    "edit measure owner": LeaderAction("edited", lambda c, w, p, o, v: c.post(
        f"/tasks/{p}/edit", data={"title": "每月开展一次教研", "lead_user": w.user_ids["lead"],
                                  "lead_department": w.dept, "recurrence": "monthly",
                                  "version": v["parent"]}), refused=200),
    "send back occurrence": LeaderAction("sent_back", lambda c, w, p, o, v: c.post(
        f"/tasks/{o}/acceptance", data={"version": v["occurrence"], "send_back": "1",
                                        "note": "缺少活动记录"}),
        refused=302, awaiting_acceptance=True),
    "accept occurrence": LeaderAction("accepted", lambda c, w, p, o, v: c.post(
        f"/tasks/{o}/acceptance", data={"version": v["occurrence"], "accept": "1"}),
        refused=302, awaiting_acceptance=True),
}


def _assert_rolled_up(app, parent: int) -> None:
    """The measure's figures are its occurrences' (see ``services.roll_up_occurrences``)."""
    with app.app_context():
        measure = db.session.get(Task, parent)
        children = db.session.execute(select(Task).where(Task.parent_id == parent)).scalars()
        counted = [c for c in children if c.status != TaskStatus.cancelled]
        if measure.status != TaskStatus.cancelled:
            complete = [c for c in counted if c.status == TaskStatus.done and (
                c.acceptance == Acceptance.accepted
                or not measure.organization.requires_acceptance)]
            assert measure.progress == round(100 * len(complete) / len(counted))
        db.session.remove()


@pytest.mark.parametrize("action", LEADER_ACTIONS)
@pytest.mark.parametrize("first", ["owner", "leader"])
def test_a_leader_and_the_owner_changing_a_measure_and_its_occurrence_do_not_deadlock(
        client, app, world, recurring, first, action):
    """The owner's update of an occurrence writes the occurrence, then the measure (its
    roll-up); a leader's change may write the measure first (a bulk action on both, a
    new owner or a cancelled measure passed on to its occurrences) or the occurrence
    first (one cancelled, accepted or sent back, then its measure's roll-up). Each
    holding the row the other needs next would be a deadlock, ended by PostgreSQL
    aborting one of them: a 500. Both take their rows in id order before writing, so one
    waits for the other, and the one that comes second is told of the conflict.

    ``first`` starts, and is held just before its second write to ``tasks`` until the
    other is waiting on a lock."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("SQLite: one writer at a time (BEGIN IMMEDIATE), no row locks to order; "
                    "set TEST_DATABASE_URL to run this on PostgreSQL")
    leader_action = LEADER_ACTIONS[action]
    parent, occurrence, _other = recurring
    if leader_action.awaiting_acceptance:
        _done_awaiting_acceptance(app, world, occurrence)
    versions = {"parent": _version(app, parent), "occurrence": _version(app, occurrence)}
    owner_status = "in_progress" if leader_action.awaiting_acceptance else "done"
    before = {kind: len(_events_by(app, world.user_ids[role]))
              for kind, role in (("owner", "lead"), ("leader", "leader"))}
    login(client, world.emails["leader"])
    owner = app.test_client()
    login(owner, world.emails["lead"])
    with app.app_context():
        engine = db.engine
    paused, release = threading.Event(), threading.Event()
    updates: list[str] = []
    results: dict[str, object] = {}

    def hold_first_before_its_second_write(conn, cursor, statement, *args):
        if threading.current_thread().name == first and statement.startswith("UPDATE tasks"):
            updates.append(statement)
            if len(updates) == 2:
                paused.set()
                release.wait(10)

    def run(name, fn):
        try:
            results[name] = fn().status_code
        except Exception as error:  # TESTING propagates what would be a 500
            results[name] = error

    requests = {
        "owner": lambda: owner.post(f"/tasks/{occurrence}/update", data={
            "version": versions["occurrence"], "status": owner_status, "note": "三月教研已开展"}),
        "leader": lambda: leader_action.post(client, world, parent, occurrence, versions),
    }
    threads = {name: threading.Thread(name=name, target=run, args=(name, fn))
               for name, fn in requests.items()}
    second = "leader" if first == "owner" else "owner"
    event.listen(engine, "before_cursor_execute", hold_first_before_its_second_write)
    try:
        threads[first].start()
        assert paused.wait(10), results
        threads[second].start()
        waited = False
        for _ in range(100):
            if waited := _waiting_on_a_lock(url):
                break
            time.sleep(0.05)
        release.set()
        for thread in threads.values():
            thread.join(30)
    finally:
        release.set()
        event.remove(engine, "before_cursor_execute", hold_first_before_its_second_write)
    assert waited and not any(t.is_alive() for t in threads.values())
    # Whoever took the rows first saves; the other is told that the task changed.
    refused = 409 if second == "owner" else leader_action.refused
    assert results == {first: 302, second: refused}, results  # a saved change redirects
    owner_events = _events_by(app, world.user_ids["lead"])[before["owner"]:]
    leader_events = _events_by(app, world.user_ids["leader"])[before["leader"]:]
    if first == "owner":
        assert [(e.task_id, e.kind) for e in owner_events] == [(occurrence, "updated")]
        assert not leader_events
    else:
        assert not owner_events
        assert leader_action.kind in {e.kind for e in leader_events}
    _assert_rolled_up(app, parent)


def _events_by(app, user_id: int) -> list[TaskEvent]:
    with app.app_context():
        events = db.session.execute(select(TaskEvent).where(TaskEvent.actor_id == user_id)
                                    .order_by(TaskEvent.id)).scalars().all()
        db.session.remove()
        return events
