"""``flask tracker scheduler`` stops on SIGTERM/SIGINT after its running job, within a bound.

A real process on a SQLite file of its own, sweeping every second. To catch a sweep in
the middle, the test holds the database's write lock: the sweep's first statement waits
for it (``BEGIN IMMEDIATE``), and the job goes on once the test lets go.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import TestingConfig
from tracker import create_app
from tracker.extensions import db

ROOT = Path(__file__).resolve().parents[1]
STARTED = "Scheduler started"
STOPPING = "received: scheduler stopping; no new jobs"
RUNNING = 'Running job "reminder-sweep'
DONE = "job reminder-sweep done"
SHUT_DOWN = "Scheduler has been shut down"


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "scheduler.sqlite"

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"

    app = create_app(Config, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return path


class Scheduler:
    def __init__(self, database: Path, stop_seconds: int):
        env = {**os.environ, "TRACKER_CONFIG": "production", "SECRET_KEY": "test-secret-value",
               "DATABASE_URL": f"sqlite:///{database}", "REMINDER_SWEEP_SECONDS": "1",
               "SCHEDULER_STOP_SECONDS": str(stop_seconds), "SQLITE_BUSY_TIMEOUT_MS": "30000",
               "UPLOAD_FOLDER": str(database.parent / "uploads"), "LOG_LEVEL": "INFO",
               "PYTHONUNBUFFERED": "1"}
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

    def start(stop_seconds: int = 60) -> Scheduler:
        scheduler = Scheduler(database, stop_seconds)
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
