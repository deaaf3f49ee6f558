"""Fixtures: an app per test on a fresh schema, clients logged in as each role, factories.

SQLite: a new database file per test. PostgreSQL (TEST_DATABASE_URL set): one
throwaway database per xdist worker, created here and dropped at the end; the
schema is created once and every table emptied before each test.
"""
from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

import tracker.models.org as org_models
from config import TestingConfig
from tracker import create_app
from tracker.extensions import db
from tracker.models import (
    Department,
    Organization,
    Role,
    Task,
    TaskStatus,
    Term,
    User,
)

PASSWORD = "secret-pass-1"
org_models.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashing in tests only


def _admin_connect(url):
    import psycopg

    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432,
                           user=url.username or "postgres", password=url.password,
                           dbname=url.database or "postgres", autocommit=True)


@pytest.fixture(scope="session")
def pg_url(request):
    # pytest-xdist's worker name ("gw0"…); "master" when run without xdist (-p no:xdist).
    worker_id = getattr(request.config, "workerinput", {}).get("workerid", "master")
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield None
        return
    url = make_url(base)
    name = f"{url.database}_{worker_id}"
    with _admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name, drivername="postgresql+psycopg").render_as_string(
        hide_password=False)
    with _admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_schema_ready: set[str] = set()


@pytest.fixture
def app(tmp_path, pg_url):
    database_url = pg_url or f"sqlite:///{tmp_path / 'test.sqlite'}"

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        UPLOAD_FOLDER = str(tmp_path / "uploads")

    app = create_app(Config, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        if pg_url:
            if pg_url not in _schema_ready:
                db.drop_all()
                db.create_all()
                _schema_ready.add(pg_url)
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
        else:
            db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An app context for tests that work with the database directly.

    Do not combine with ``client`` requests: a request made while this context is
    pushed reuses it (and its session) instead of getting its own. Factories need
    an active context: use ``ctx`` or ``with app.app_context():``."""
    with app.app_context():
        yield


@pytest.fixture
def make_org(app):
    def make(name="测试学校", **kw) -> Organization:
        org = Organization(name=name, **kw)
        db.session.add(org)
        db.session.flush()
        return org
    return make


@pytest.fixture
def make_user(app):
    counter = iter(range(1, 10_000))

    def make(org, role=Role.staff, *, name=None, email=None, departments=(), phone=None,
             active=True) -> User:
        n = next(counter)
        user = User(organization_id=org.id, name=name or f"用户{n}",
                    email=email or f"user{n}-{org.id}@example.org", role=Role(role),
                    phone=phone, active=active, departments=list(departments))
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.flush()
        return user
    return make


@pytest.fixture
def make_department(app):
    def make(org, name, head=None) -> Department:
        dept = Department(organization_id=org.id, name=name, head=head)
        db.session.add(dept)
        db.session.flush()
        return dept
    return make


@pytest.fixture
def make_term(app):
    def make(org, name="2024—2025学年第一学期", start=date(2024, 9, 1), mid=date(2024, 11, 4),
             end=date(2025, 1, 20)) -> Term:
        term = Term(organization_id=org.id, name=name, start_date=start, mid_date=mid,
                    end_date=end)
        db.session.add(term)
        db.session.flush()
        return term
    return make


@pytest.fixture
def make_task(app):
    def make(org, title="测试任务", *, lead_user=None, lead_department=None, due=None,
             status=TaskStatus.not_started, supporting_users=(), supporting_departments=(),
             **kw) -> Task:
        task = Task(organization_id=org.id, title=title, lead_user=lead_user,
                    lead_department=lead_department,
                    due_date=due if due is not None else date.today() + timedelta(days=10),
                    status=status, supporting_users=list(supporting_users),
                    supporting_departments=list(supporting_departments), **kw)
        db.session.add(task)
        db.session.flush()
        return task
    return make


def page_csrf_token(client, path: str = "/account/login", **kwargs) -> str:
    """The CSRF token a page's form carries (for tests with CSRF switched on)."""
    page = client.get(path, **kwargs).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def login_with_csrf(client, identifier: str, password: str = PASSWORD):
    return client.post("/account/login", data={"identifier": identifier, "password": password,
                                               "csrf_token": page_csrf_token(client)})


def login(client, identifier: str, password: str = PASSWORD, follow: bool = False):
    return client.post("/account/login", data={"identifier": identifier, "password": password},
                       follow_redirects=follow)


@pytest.fixture
def world(app, make_org, make_user, make_department, make_task):
    """Two organisations; in the first an admin, a leader, a lead owner, a supporting
    owner and an unrelated staff member, and one task; in the second an admin and a task."""
    with app.app_context():
        return _build_world(make_org, make_user, make_department, make_task)


def _build_world(make_org, make_user, make_department, make_task):
    org = make_org("第一小学")
    dept = make_department(org, "教务处")
    other_dept = make_department(org, "德育处")
    users = {
        "admin": make_user(org, Role.admin, email="admin@one.edu.cn"),
        "leader": make_user(org, Role.leader, email="leader@one.edu.cn"),
        "lead": make_user(org, Role.staff, email="lead@one.edu.cn", departments=[dept]),
        "support": make_user(org, Role.staff, email="support@one.edu.cn"),
        "other": make_user(org, Role.staff, email="other@one.edu.cn", departments=[other_dept]),
    }
    task = make_task(org, "开展教学常规检查", lead_user=users["lead"], lead_department=dept,
                     supporting_users=[users["support"]])
    org2 = make_org("第二小学")
    users["foreign"] = make_user(org2, Role.admin, email="admin@two.edu.cn")
    foreign_task = make_task(org2, "别校任务", lead_user=users["foreign"])
    db.session.commit()
    world = World(org=org.id, org2=org2.id, dept=dept.id, task=task.id,
                  foreign_task=foreign_task.id,
                  emails={role: u.email for role, u in users.items()},
                  user_ids={role: u.id for role, u in users.items()})
    # Plain ids only: touching an expired ORM object later would open a transaction in
    # this fixture's session and hold SQLite's write lock against the app's requests.
    db.session.remove()
    return world


@dataclass(frozen=True)
class World:
    org: int
    org2: int
    dept: int
    task: int
    foreign_task: int
    emails: dict
    user_ids: dict


@contextmanager
def recorded_statements(app):
    """The SQL statements the app's engine runs inside the block, as they run: for
    asserting that a page's query count does not grow with its data."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def answer_json(handler, status: int, body) -> None:
    """A local HTTP receiver's answer (``http.server`` handler): JSON with its length."""
    payload = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
