"""Production shape on one PostgreSQL database: two scheduler processes, four web workers.

gunicorn (``deploy/gunicorn.conf.py``, four workers) and two ``flask tracker scheduler``
processes sweeping every second (``REMINDER_SWEEP_SECONDS=1``) share one freshly migrated
database and a real SMTP server. Seeded tasks have reminders due at once; while the
schedulers run, staff post status updates (and close a task each) and leaders move due
dates and reassign tasks over HTTP, which makes new reminders due mid-run. Afterwards:
every reminder the final state calls for went out, every message exactly once, each by
one of the two schedulers; no 5xx; every process stops on SIGTERM.

The organisation's clock is put at midday (an ``Etc/GMT±N`` zone chosen from the current
UTC hour), so neither quiet hours nor a local midnight fall inside the run.
"""
from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from config import TestingConfig
from tests.conftest import PASSWORD
from tests.reminders.conftest import free_port
from tracker import create_app
from tracker.extensions import db
from tracker.models import (
    OPEN_STATUSES,
    Notification,
    NotificationPreference,
    ReminderSettings,
    Role,
    Task,
    TaskEvent,
    TaskStatus,
    User,
)
from tracker.reminders import planning

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAFF = 6
WEB_SECONDS = 9.0
DAILY_CAP = 1000  # nothing folds: every planned reminder is meant to be sent
RULES = planning.Rules(daily_cap=DAILY_CAP)
VERSION = re.compile(r'name="version"[^>]*value="(\d+)"')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ACCESS = re.compile(r'"(GET|POST) (\S+) HTTP/[\d.]+" (\d{3}) ')
SWEEP_DONE = "job reminder-sweep done"
SENT = re.compile(r"sent email notification (\S+) to ")


def _midday_zone() -> str:
    """A fixed-offset zone in which it is now between 12:00 and 13:00."""
    east = 12 - datetime.now(timezone.utc).hour  # -11 … 12 hours east of UTC
    return "Etc/GMT" if east == 0 else f"Etc/GMT{-east:+d}"  # Etc/GMT-8 is UTC+8


# --- the database: its own, built by the migrations --------------------------------

def _admin(url):
    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432,
                           user=url.username or "postgres", password=url.password,
                           dbname=url.database, autocommit=True, connect_timeout=5)


@pytest.fixture
def app(tmp_path):
    """This module's app: a database of its own, freshly migrated (the shared test database
    is built with ``create_all`` and emptied per test; the processes here run the
    production schema). Overrides the suite's ``app``, so ``smtp_server`` uses it too."""
    base_text = os.environ.get("TEST_DATABASE_URL")
    if not base_text:
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL; scripts/run_tests.py does when "
                    "one answers on 127.0.0.1:5432): two schedulers share the outbox through "
                    "SKIP LOCKED; SQLite allows one sender at a time through its lease")
    base = make_url(base_text)
    name = f"{base.database}_procs_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    try:
        with _admin(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {base.host}:{base.port or 5432}: "
                    f"{str(error).strip().splitlines()[0]}")
    url = base.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False)

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        UPLOAD_FOLDER = str(tmp_path / "uploads")

    app = create_app(Config, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with _admin(base) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def school(app, make_org, make_user, make_department, make_task):
    """Six staff in one department, its head, two leaders; e-mail and in-app. No digests:
    their jobs run at set minutes of the hour and would add messages at random to a run.

    Each staff member owns five tasks with a reminder due now (due today, tomorrow, in a
    week, yesterday, and eight days ago — which also escalates to the head and the
    leaders), two tasks due in a month (no reminder yet: the leaders move them into the
    window), and one task due tomorrow that the leaders keep reassigning."""
    tz = _midday_zone()
    today = datetime.now(ZoneInfo(tz)).date()
    with app.app_context():
        org = make_org("双进程小学", timezone=tz)
        head = make_user(org, Role.staff, name="教务主任", email="head@procs.test")
        dept = make_department(org, "教务处", head=head)
        leaders = [make_user(org, Role.leader, name=f"校长{i}", email=f"leader{i}@procs.test")
                   for i in range(2)]
        staff = [make_user(org, Role.staff, name=f"老师{i}", email=f"t{i}@procs.test",
                           departments=[dept]) for i in range(STAFF)]
        for user in [head, *leaders, *staff]:
            db.session.add(NotificationPreference(user_id=user.id, email=True, in_app=True,
                                                  daily_digest=False, weekly_digest=False))
        db.session.add(ReminderSettings(organization_id=org.id, daily_cap=DAILY_CAP))
        window, far, pool = {}, [], []
        for i, user in enumerate(staff):
            window[user.email] = [
                make_task(org, f"任务{i}-{days:+d}", lead_user=user, lead_department=dept,
                          due=today + timedelta(days=days)).id
                for days in (0, 1, 7, -1, -8)]
            far += [make_task(org, f"远期{i}-{k}", lead_user=user, lead_department=dept,
                              due=today + timedelta(days=30)).id for k in range(2)]
            pool.append(make_task(org, f"轮换{i}", lead_user=user, lead_department=dept,
                                  due=today + timedelta(days=1)).id)
        db.session.commit()
        result = {"org": org.id, "tz": tz, "today": today, "dept": dept.id, "head": head.id,
                  "leaders": [u.email for u in leaders], "leader_ids": [u.id for u in leaders],
                  "staff": {u.email: u.id for u in staff}, "window": window, "far": far,
                  "pool": pool}
        db.session.remove()
        return result


# --- processes ------------------------------------------------------------------------

def _env(app, smtp_port: int, web_port: int) -> dict:
    env = {**os.environ, "TRACKER_CONFIG": "production", "SECRET_KEY": "test-secret-value",
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"], "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(smtp_port), "MAIL_USE_TLS": "0", "MAIL_USE_SSL": "0",
           "MAIL_DEFAULT_SENDER": "tracker@procs.test",
           "PUBLIC_BASE_URL": "https://tracker.procs.test", "REMINDER_SWEEP_SECONDS": "1",
           "GUNICORN_BIND": f"127.0.0.1:{web_port}", "GUNICORN_WORKERS": "4",
           "LOGIN_RATE_LIMIT": "100 per minute", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    return env


class Process:
    """A child process whose output goes to a file (a pipe nobody reads would block it)."""

    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log,
                                      stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> float | None:
        """SIGTERM, wait; the seconds it took, or None when it had to be killed."""
        started = time.monotonic()
        self.ran_until_stopped = self.popen.poll() is None
        if self.ran_until_stopped:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
            took = time.monotonic() - started
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
            took = None
        self._log.close()
        return took


def _wait_for_health(server: Process, port: int, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert server.popen.poll() is None, server.output()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer /healthz in {timeout} s:\n{server.output()}")


def _wait_for_log(scheduler: Process, text: str, n: int = 1, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while scheduler.output().count(text) < n:
        assert scheduler.popen.poll() is None, scheduler.output()[-3000:]
        assert time.monotonic() < end, f"{scheduler.name}: not {n} × {text!r} in {timeout} s"
        time.sleep(0.1)


# --- people using the web workers -------------------------------------------------------

class Browser:
    """One person at gunicorn: a new connection per request, cookies kept by hand (the
    session cookie is Secure, so a cookie jar would not send it over plain HTTP)."""

    def __init__(self, port: int, record: list):
        self.port, self.record, self.cookies = port, record, {}

    def request(self, method: str, path: str, form: dict | None = None,
                accept: str = "text/html") -> tuple[int, str]:
        headers = {"Accept": accept, "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        self.record.append((method, re.sub(r"/\d+", "/<id>", path), response.status))
        return response.status, text

    def login(self, email: str) -> None:
        _, page = self.request("GET", "/account/login")
        status, _ = self.request("POST", "/account/login", {
            "identifier": email, "password": PASSWORD, "csrf_token": CSRF.search(page)[1]})
        assert status == 302, f"login as {email}: HTTP {status}"


def staff_member(port: int, email: str, task_ids: list[int], until: float, record: list,
                 notes: list, errors: list) -> None:
    """Open a task, post a status change with a unique note; the second round closes the
    task due in a week (its reminder may be out already, or is cancelled)."""
    try:
        browser = Browser(port, record)
        browser.login(email)
        closing = task_ids[2]
        open_ids = [i for i in task_ids if i != closing]
        round_no = 0
        while time.monotonic() < until:
            round_no += 1
            task_id = closing if round_no == 2 else open_ids[round_no % len(open_ids)]
            status, page = browser.request("GET", f"/tasks/{task_id}")
            assert status == 200, f"GET /tasks/{task_id}: {status}"
            note = f"procs-{email}-{round_no}"
            form = {"csrf_token": CSRF.search(page)[1], "version": VERSION.search(page)[1],
                    "status": "done" if task_id == closing else
                    ("in_progress", "blocked")[round_no % 2],
                    "progress": str(round_no * 5 % 100), "note": note}
            status, _ = browser.request("POST", f"/tasks/{task_id}/update", form,
                                        accept="application/json")
            assert status == 200, f"POST /tasks/{task_id}/update: {status}"
            notes.append(note)
            if round_no % 3 == 0:
                browser.request("GET", "/tasks/mine")
                browser.request("GET", "/notifications/")
    except Exception as error:  # noqa: BLE001 — reported by the test, not lost in a thread
        errors.append(f"{email}: {error!r}")


def leader(port: int, email: str, far: list[int], pool: dict[int, int], staff_ids: list[int],
           today: date, until: float, record: list, actions: list, errors: list) -> None:
    """Move far-off tasks into the reminder window, then keep reassigning tasks due
    tomorrow to the next staff member (each new owner is owed a reminder)."""
    try:
        browser = Browser(port, record)
        browser.login(email)
        _, page = browser.request("GET", "/tasks/")
        token = CSRF.search(page)[1]
        owners = dict(pool)
        step = 0
        while time.monotonic() < until:
            if step < len(far):
                task_id, day = far[step], today + timedelta(days=step % 2)
                form = {"action": "due", "due_date": day.isoformat(), "lead_user": "0"}
                change = ("due", task_id, day)
            else:
                task_id = list(owners)[step % len(owners)]
                new_owner = staff_ids[(staff_ids.index(owners[task_id]) + 1) % len(staff_ids)]
                owners[task_id] = new_owner
                form = {"action": "assign", "lead_user": str(new_owner), "due_date": ""}
                change = ("owner", task_id, new_owner)
            status, _ = browser.request("POST", "/tasks/bulk", {
                **form, "task": [str(task_id)], "lead_department": "0",
                "note": f"procs-{email}-{step}", "csrf_token": token})
            assert status == 302, f"POST /tasks/bulk: {status}"
            actions.append(change)
            step += 1
            if step % 4 == 0:
                browser.request("GET", "/tasks/")
            time.sleep(0.1)
    except Exception as error:  # noqa: BLE001
        errors.append(f"{email}: {error!r}")


# --- what the final state calls for ----------------------------------------------------

def expected_reminders(app, school: dict, now: datetime) -> set[str]:
    """The keys planning wants for the tasks as they are now (owners, dates, open or not),
    with an empty outbox: each must have been sent by the end."""
    with app.app_context():
        tasks = [planning.TaskInfo(id=t.id, title=t.title, due=t.due_date,
                                   lead_user_id=t.lead_user_id,
                                   lead_department_id=t.lead_department_id)
                 for t in db.session.execute(select(Task).where(
                     Task.organization_id == school["org"],
                     Task.status.in_(OPEN_STATUSES))).scalars()]
        people = db.session.execute(select(User.id).where(
            User.organization_id == school["org"], User.active.is_(True))).scalars().all()
        db.session.remove()
    directory = planning.Directory(
        people={uid: planning.Person(uid, ("in_app", "email")) for uid in people},
        department_heads={school["dept"]: school["head"]}, leaders=tuple(school["leader_ids"]))
    return {p.key for p in planning.plan_reminders(tasks, RULES, directory, school["tz"], now)}


def _outbox(app) -> list[dict]:
    with app.app_context():
        rows = [{"key": n.idempotency_key, "status": n.status.value, "channel": n.channel.value,
                 "user": n.recipient_user_id, "task": n.task_id, "created_at": n.created_at,
                 "sent_at": n.sent_at}
                for n in db.session.execute(select(Notification)).scalars()]
        db.session.remove()
        return rows


def _unfinished(app) -> int:
    """Outbox rows still to be sent (or being sent)."""
    return sum(r["status"] in ("pending", "claimed", "sending") for r in _outbox(app))


def _connections(app) -> int:
    """Sessions open on the test's database (this test's own pool closed first)."""
    with app.app_context():
        db.engine.dispose()
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    with _admin(url.set(database="postgres")) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                            (url.database,)).fetchone()[0]


# --- the test ---------------------------------------------------------------------------

def test_two_schedulers_and_four_web_workers_send_each_reminder_exactly_once(
        app, school, smtp_server, tmp_path):
    started = time.monotonic()
    smtp_server.delay = 0.01
    web_port = free_port()
    env = _env(app, smtp_server.port, web_port)
    record: list = []
    notes: list = []
    actions: list = []
    errors: list = []
    schedulers: list[Process] = []
    server = Process("gunicorn", [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                                  "wsgi:app"], env, tmp_path)
    stopped: dict[str, float | None] = {}
    initially = expected_reminders(app, school, datetime.now(timezone.utc))
    try:
        _wait_for_health(server, web_port)
        schedulers = [Process(f"scheduler{i}", [sys.executable, "-m", "flask", "--app", "wsgi",
                                                "tracker", "scheduler"], env, tmp_path)
                      for i in (1, 2)]
        for scheduler in schedulers:
            _wait_for_log(scheduler, "Scheduler started")
        # Their first sweep is a second away: the seeded reminders go out as people log in.
        web_started = datetime.now(timezone.utc)
        until = time.monotonic() + WEB_SECONDS
        staff_ids = list(school["staff"].values())
        threads = [threading.Thread(target=staff_member, args=(
            web_port, email, school["window"][email], until, record, notes, errors))
            for email in school["staff"]]
        pool = {task_id: staff_ids[i] for i, task_id in enumerate(school["pool"])}
        for n, email in enumerate(school["leaders"]):
            threads.append(threading.Thread(target=leader, args=(
                web_port, email, school["far"][n::2],
                {k: v for i, (k, v) in enumerate(pool.items()) if i % 2 == n}, staff_ids,
                school["today"], until, record, actions, errors)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WEB_SECONDS + 60)
        web_ended = datetime.now(timezone.utc)
        assert not errors, errors

        # Drained: each scheduler finished two sweeps that began after the last web write
        # (the first may have begun before it), and nothing is left to send.
        marks = [s.output().count(SWEEP_DONE) for s in schedulers]
        for scheduler, mark in zip(schedulers, marks):
            _wait_for_log(scheduler, SWEEP_DONE, mark + 2, timeout=20)
        end = time.monotonic() + 10
        while _unfinished(app) and time.monotonic() < end:
            time.sleep(0.1)
        now = datetime.now(timezone.utc)
    finally:
        for process in [*schedulers, server]:
            stopped[process.name] = process.stop()

    # --- every process ran, and stopped on SIGTERM --------------------------------------
    web_log = server.output()
    logs = {s.name: s.output() for s in schedulers}
    assert all(took is not None for took in stopped.values()), stopped
    assert server.ran_until_stopped and server.popen.returncode == 0, web_log[-3000:]
    assert web_log.count("Booting worker") == 4
    assert "scheduler" not in web_log.lower()  # web workers never start a scheduler
    for scheduler in schedulers:
        # SIGTERM: no new job, a running one finishes, then a clean exit (as systemd stops it).
        assert scheduler.ran_until_stopped
        assert scheduler.popen.returncode == 0
    for name, log in logs.items():
        assert "scheduler running with jobs: " in log, log[-3000:]
        assert "Traceback" not in log and " failed" not in log, log[-3000:]
        assert log.count(SWEEP_DONE) >= 3, f"{name} swept {log.count(SWEEP_DONE)} times"
    end = time.monotonic() + 5
    while _connections(app) and time.monotonic() < end:
        time.sleep(0.1)
    assert _connections(app) == 0, "a stopped process left a database session behind"

    # --- the web: no 5xx, every write kept ----------------------------------------------
    codes = Counter(status for _, _, status in record)
    served = Counter(int(m[3]) for m in ACCESS.finditer(web_log) if m[2] != "/healthz")
    assert not [r for r in record if r[2] >= 500] and not any(c >= 500 for c in served), \
        (codes, served)
    assert "unhandled error" not in web_log
    assert sum(served.values()) == len(record)
    with app.app_context():
        kept = set(db.session.execute(select(TaskEvent.note).where(
            TaskEvent.note.like("procs-%"))).scalars())
        assigned = db.session.execute(select(func.count()).select_from(TaskEvent).where(
            TaskEvent.kind == "assigned")).scalar_one()
        final = {t.id: t for t in db.session.execute(select(Task)).scalars()}
        closed = {i for i, t in final.items() if t.status not in OPEN_STATUSES}
        emails = dict(db.session.execute(select(User.id, User.email)).all())
        db.session.remove()
    assert set(notes) <= kept and len(notes) >= STAFF * 2
    assert assigned == len(actions) >= len(school["far"]) + 4
    last = {(kind, task_id): value for kind, task_id, value in actions}
    for (kind, task_id), value in last.items():
        assert (final[task_id].due_date if kind == "due" else final[task_id].lead_user_id) \
            == value, (kind, task_id)
    assert closed == {ids[2] for ids in school["window"].values()}
    assert all(final[i].status == TaskStatus.done for i in closed)

    # --- the outbox and the mailbox: each reminder once, none lost -----------------------
    rows = _outbox(app)
    by_key = {r["key"]: r for r in rows}
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= {"sent", "cancelled"}, statuses
    # Cancelled: only reminders of a task closed before they went out.
    assert {r["task"] for r in rows if r["status"] == "cancelled"} <= closed
    received = Counter(m["msg"]["X-Plan-Tracker-Key"] for m in smtp_server.messages)
    twice = {k: n for k, n in received.items() if n > 1}
    assert not twice, f"delivered more than once: {twice}"
    sent_email = {r["key"] for r in rows if r["channel"] == "email" and r["status"] == "sent"}
    assert set(received) == sent_email
    for message in smtp_server.messages:
        row = by_key[message["msg"]["X-Plan-Tracker-Key"]]
        assert message["to"] == [emails[row["user"]]]
    wanted = expected_reminders(app, school, now)
    sent = {r["key"] for r in rows if r["status"] == "sent"}
    assert wanted and not wanted - sent, f"never sent: {sorted(wanted - sent)}"
    assert {k for k in wanted if k.endswith(":email")} <= set(received)

    # --- the work overlapped, and was shared ---------------------------------------------
    # Reminders owed only because of what leaders changed over HTTP, sent while the
    # requests were still coming.
    made_by_web = wanted - initially
    sent_during = [r for r in rows if r["sent_at"] and web_started <= r["sent_at"] <= web_ended]
    assert made_by_web and {r["key"] for r in sent_during} & made_by_web, \
        "web writes and sweeps did not overlap"
    by_process = {name: set(SENT.findall(log)) for name, log in logs.items()}
    first, second = by_process.values()
    assert not first & second
    assert first | second == set(received)
    assert first and second, {name: len(keys) for name, keys in by_process.items()}

    elapsed = time.monotonic() - started
    print(f"\n{len(rows)} outbox rows ({dict(statuses)}), {len(wanted)} owed by the final "
          f"state; {len(received)} e-mails received, {sum(received.values())} deliveries; "
          f"{len(record)} web requests {dict(codes)}; {len(notes)} status updates, "
          f"{len(actions)} leader changes; {len(made_by_web)} owed because of them; "
          f"{len(sent_during)} rows sent during the web phase; sweeps "
          f"{ {n: log.count(SWEEP_DONE) for n, log in logs.items()} }, e-mails sent "
          f"{ {n: len(k) for n, k in by_process.items()} }; stopped in "
          f"{ {n: round(t, 2) for n, t in stopped.items()} } s; {elapsed:.1f} s in all")
