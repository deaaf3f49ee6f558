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
from datetime import date

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from tests.conftest import _admin_connect, login
from tracker.extensions import db
from tracker.models import Organization, Recurrence, Task, TaskEvent, TaskStatus, User

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


@pytest.mark.parametrize("first", ["owner", "leader"])
def test_bulk_on_a_measure_and_its_occurrence_racing_the_owner_does_not_deadlock(
        client, app, world, recurring, first):
    """The owner's update of an occurrence writes the occurrence, then the measure (its
    roll-up); a leader's bulk action on both writes them in id order, the measure first.
    Each holding the row the other needs next would be a deadlock, ended by PostgreSQL
    aborting one of them: a 500. Both take their rows in id order before writing, so one
    waits for the other, and the one that comes second is told of the conflict.

    ``first`` starts, and is held just before its second write to ``tasks`` until the
    other is waiting on a lock."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("SQLite: one writer at a time (BEGIN IMMEDIATE), no row locks to order; "
                    "set TEST_DATABASE_URL to run this on PostgreSQL")
    parent, occurrence, other = recurring
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
            "version": "1", "status": "done", "note": "三月教研已开展"}),
        "leader": lambda: client.post("/tasks/bulk", data={
            "task": [parent, occurrence], "action": "cancel", "note": "上级调整，本学期不再开展"}),
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
    assert results == {first: 302, second: 409}, results
    tasks, cancelled = _state(app, parent, occurrence)
    if first == "owner":
        assert tasks[occurrence][0] == TaskStatus.done
        assert tasks[parent][:2] == (TaskStatus.in_progress, 50)  # rolled up: 1 of 2 done
        assert not cancelled
    else:
        assert tasks[occurrence][0] == tasks[parent][0] == TaskStatus.cancelled
        assert sorted(cancelled) == [parent, occurrence, other]  # the open one followed
