"""``flask tracker scheduler`` stops on SIGTERM/SIGINT after its running job, within a bound.

A real process on a SQLite file of its own, sweeping every second. To catch a sweep in
the middle, the test holds the database's write lock: the sweep's first statement waits
for it (``BEGIN IMMEDIATE``), and the job goes on once the test lets go. Or the sweep is
sending to a group robot (a local HTTP receiver) that answers slowly.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from config import TestingConfig
from tests.conftest import answer_json
from tests.reminders.helpers import robot_notes, school
from tracker import create_app
from tracker.extensions import db
from tracker.models import Notification, SenderLease
from tracker.reminders import outbox

ROOT = Path(__file__).resolve().parents[1]
STARTED = "Scheduler started"
STOPPING = "received: scheduler stopping; no new jobs"
RUNNING = 'Running job "reminder-sweep'
DONE = "job reminder-sweep done"
SHUT_DOWN = "Scheduler has been shut down"


SECRET_KEY = "test-secret-value"  # the scheduler's too: robot URLs are encrypted with it
ROBOT = {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_TIMEOUT": "10"}


def _app(path: Path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"

    Config.SECRET_KEY = SECRET_KEY
    return create_app(Config, instance_path=str(path.parent / "instance"))


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "scheduler.sqlite"
    app = _app(path)
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return path


class Scheduler:
    def __init__(self, database: Path, stop_seconds: int, extra_env: dict[str, str]):
        env = {**os.environ, "TRACKER_CONFIG": "production", "SECRET_KEY": SECRET_KEY,
               "DATABASE_URL": f"sqlite:///{database}", "REMINDER_SWEEP_SECONDS": "1",
               "SCHEDULER_STOP_SECONDS": str(stop_seconds), "SQLITE_BUSY_TIMEOUT_MS": "30000",
               "UPLOAD_FOLDER": str(database.parent / "uploads"), "LOG_LEVEL": "INFO",
               "PYTHONUNBUFFERED": "1", **extra_env}
        self.log_path = database.parent / "scheduler.log"
        self._log = open(self.log_path, "w")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "tracker", "scheduler"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, n: int = 1, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while self.output().count(text) < n:
            assert self.popen.poll() is None, self.output()[-3000:]
            assert time.monotonic() < end, f"not {n} × {text!r} in {timeout} s:\n{self.output()}"
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM) -> None:
        self.sent = time.monotonic()
        self.popen.send_signal(sig)

    def exit_code(self, timeout: float) -> int:
        """Its exit status once it ends, at most ``timeout`` seconds after the signal."""
        try:
            return self.popen.wait(timeout=max(0.0, self.sent + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout} s after the signal:\n"
                                 f"{self.output()[-3000:]}") from None

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._log.close()


@pytest.fixture
def start(database):
    started: list[Scheduler] = []

    def start(stop_seconds: int = 60, **extra_env: str) -> Scheduler:
        scheduler = Scheduler(database, stop_seconds, extra_env)
        started.append(scheduler)
        scheduler.wait_for(STARTED)
        return scheduler
    yield start
    for scheduler in started:
        scheduler.close()


def _hold_write_lock(database: Path, scheduler: Scheduler) -> sqlite3.Connection:
    """Take the write lock, then wait until a sweep has started behind it."""
    lock = sqlite3.connect(database, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    scheduler.wait_for(RUNNING, scheduler.output().count(RUNNING) + 1)
    time.sleep(0.2)  # into its BEGIN
    return lock


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_scheduler_stops_at_once_on_a_signal(start, sig):
    scheduler = start()
    scheduler.stop(sig)
    assert scheduler.exit_code(timeout=5) == 0
    log = scheduler.output()
    assert f"{sig.name} {STOPPING}" in log and SHUT_DOWN in log
    assert "Traceback" not in log


def test_sigterm_lets_the_running_sweep_finish(start, database):
    scheduler = start()
    lock = _hold_write_lock(database, scheduler)
    done_before = scheduler.output().count(DONE)
    scheduler.stop()
    scheduler.wait_for(STOPPING, timeout=5)
    time.sleep(1)  # a second and a sweep interval later: still waiting for that sweep
    assert scheduler.popen.poll() is None
    lock.rollback()
    lock.close()
    assert scheduler.exit_code(timeout=5) == 0
    log = scheduler.output()
    assert log.count(DONE) == done_before + 1  # the running sweep finished, no new one began
    assert log.index(STOPPING) < log.rindex(DONE) < log.index(SHUT_DOWN)
    assert "Traceback" not in log and " failed" not in log


def test_a_job_still_running_at_the_deadline_does_not_hold_the_stop(start, database):
    scheduler = start(stop_seconds=1)
    lock = _hold_write_lock(database, scheduler)
    try:
        scheduler.stop()
        assert scheduler.exit_code(timeout=5) == 1
        assert time.monotonic() - scheduler.sent >= 1
    finally:
        lock.rollback()
        lock.close()
    assert "a job was still running after 1 s; scheduler exits without it" in scheduler.output()


class SlowRobot:
    """A group robot's webhook on 127.0.0.1 that answers after ``delay`` seconds."""

    def __init__(self):
        self.delay = 0.0
        self.requests: list[float] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                robot.requests.append(time.monotonic())
                robot.arrived.set()
                robot.release.wait(robot.delay)
                answer_json(self, 200, {"errcode": 0, "errmsg": "ok"})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send?key=k"


@pytest.fixture
def slow_robot():
    robot = SlowRobot()
    yield robot
    robot.release.set()
    robot.server.shutdown()
    robot.server.server_close()


def _due_robot_messages(database: Path, url: str, n: int) -> None:
    app = _app(database)
    data = school(app)
    robot_notes(app, data, url, n, due=outbox.wall_clock() - timedelta(minutes=1),
                quiet_hours=False)
    with app.app_context():
        db.engine.dispose()


def _outbox_state(database: Path) -> dict:
    app = _app(database)
    with app.app_context():
        rows = db.session.execute(db.select(Notification).order_by(Notification.id)).scalars()
        state = {"status": [], "claimed": 0, "errors": []}
        for row in rows:
            state["status"].append(row.status.value)
            state["claimed"] += bool(row.claimed_by or row.claimed_until)
            state["errors"] += [row.last_error] if row.last_error else []
        lease = db.session.get(SenderLease, outbox.LEASE_NAME)
        state["lease_held"] = lease is not None and lease.expires_at > outbox.wall_clock()
        db.session.remove()
        db.engine.dispose()
    return state


def test_sigterm_during_slow_sends_stops_after_the_send_in_progress(start, database,
                                                                     slow_robot):
    """Five messages to a robot that takes 2 s each: ten seconds of sending, twice the
    bound. The stop waits for the one being sent only, gives the rest back at once and lets
    go of the lease, so a restarted scheduler sends them straight away."""
    _due_robot_messages(database, slow_robot.url, 5)
    slow_robot.delay = 2
    scheduler = start(stop_seconds=5, **ROBOT)
    assert slow_robot.arrived.wait(30), scheduler.output()
    scheduler.stop()
    assert scheduler.exit_code(timeout=4.5) == 0
    log = scheduler.output()
    given_back = "4 claimed notifications given back unsent"
    assert log.index(STOPPING) < log.index(given_back) < log.rindex(DONE) < log.index(SHUT_DOWN)
    assert "Traceback" not in log and " failed" not in log and "still running" not in log
    assert len(slow_robot.requests) == 1
    state = _outbox_state(database)
    assert state == {"status": ["sent"] + ["pending"] * 4, "claimed": 0, "errors": [],
                     "lease_held": False}

    slow_robot.delay = 0
    again = start(**ROBOT)
    end = time.monotonic() + 15
    while _outbox_state(database)["status"] != ["sent"] * 5:
        assert time.monotonic() < end, again.output()
        time.sleep(0.2)
    again.stop()
    assert again.exit_code(timeout=5) == 0
    assert len(slow_robot.requests) == 5  # each sent once
    assert "uncertain" not in again.output()


def test_a_second_signal_ends_the_process_at_once(start, database, slow_robot):
    _due_robot_messages(database, slow_robot.url, 2)
    slow_robot.delay = 30
    scheduler = start(**ROBOT)
    assert slow_robot.arrived.wait(30), scheduler.output()
    scheduler.stop(signal.SIGTERM)
    scheduler.wait_for(STOPPING, timeout=5)
    scheduler.stop(signal.SIGINT)
    assert scheduler.exit_code(timeout=2) == -signal.SIGINT
    assert _outbox_state(database)["status"] == ["sending", "claimed"]  # cut off mid-send
