"""Dashboard benchmark: N schools × M tasks, school and district dashboards, p50/p95.

    .venv/bin/python bench/dashboard_bench.py                       # SQLite, gunicorn
    .venv/bin/python bench/dashboard_bench.py --database-url postgresql://postgres@127.0.0.1/bench
    .venv/bin/python bench/dashboard_bench.py --server client       # Flask test client

Builds a district of ``--schools`` schools (each with ``--tasks`` tasks, ``--users``
users, 10 departments, a term and a plan with 8 sections) with bulk inserts, then
times GET requests: a trivial page of the same app (``/healthz``), the school
dashboard (as a school leader) and the district dashboard (as the district leader).
Prints p50/p95 per page and each as a ratio to the trivial page. Figures only: not a
pass/fail test. The database named by the URL is emptied first.
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-pass-1"
DEPARTMENTS = ["教务处", "德育处", "总务处", "少先队", "安全办", "教科室", "办公室", "工会",
               "党支部", "校长室"]
SECTIONS = ["一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、"]


def build(database_url: str, schools: int, tasks: int, users: int, seed: int = 6) -> dict:
    """Create the district with bulk inserts; return the logins to use."""
    from sqlalchemy import insert, text
    from werkzeug.security import generate_password_hash

    from config import Config
    from tracker import create_app
    from tracker.calendar import default_term
    from tracker.extensions import db
    from tracker.models import (
        Department,
        Organization,
        Plan,
        PlanNode,
        Task,
        Term,
        User,
        user_departments,
    )

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = database_url

    rng = random.Random(seed)
    if database_url.startswith("sqlite:///"):  # a fresh file (drop_all trips on FK cycles)
        for suffix in ("", "-wal", "-shm"):
            Path(database_url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)
    app = create_app(BenchConfig, instance_path=tempfile.mkdtemp(prefix="bench-instance-"))
    today = date.today()
    dates = default_term(today)
    now = datetime.now(timezone.utc)
    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    started = time.perf_counter()
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            db.drop_all()
        db.create_all()
        orgs = [{"id": 1, "name": "城区教育和体育局", "kind": "district", "parent_id": None,
                 "timezone": "Asia/Shanghai", "requires_acceptance": False,
                 "stale_after_days": 14, "created_at": now}]
        orgs += [{"id": 1 + s, "name": f"第{s:03d}小学", "kind": "school", "parent_id": 1,
                  "timezone": "Asia/Shanghai", "requires_acceptance": s % 3 == 0,
                  "stale_after_days": 14, "created_at": now} for s in range(1, schools + 1)]
        db.session.execute(insert(Organization), orgs)
        depts, people, memberships, terms, plans, nodes, rows = [], [], [], [], [], [], []
        user_id = node_id = task_id = 0
        for org in orgs:
            for name in DEPARTMENTS:
                depts.append({"id": len(depts) + 1, "organization_id": org["id"], "name": name})
            count = 3 if org["kind"] == "district" else users
            first = user_id + 1
            for u in range(count):
                user_id += 1
                role = "leader" if u == 0 else ("admin" if u == 1 else "staff")
                people.append({"id": user_id, "organization_id": org["id"],
                               "name": f"教师{user_id}", "email": f"u{user_id}@bench.edu.cn",
                               "password_hash": password_hash, "role": role, "active": True,
                               "created_at": now})
                memberships.append({"user_id": user_id,
                                    "department_id": len(depts) - 9 + u % 10})
            org["first_user"] = first
            if org["kind"] == "district":
                continue
            terms.append({"id": len(terms) + 1, "organization_id": org["id"],
                          "name": dates.name, "school_year": dates.school_year,
                          "start_date": dates.start, "mid_date": dates.mid,
                          "end_date": dates.end})
            plan_id = len(plans) + 1
            plans.append({"id": plan_id, "organization_id": org["id"], "term_id": terms[-1]["id"],
                          "title": f"{org['name']}工作计划", "status": "active",
                          "source_text": "", "preamble": "", "trailer": "", "created_at": now})
            measures = []
            for s, label in enumerate(SECTIONS):
                node_id += 1
                section = node_id
                nodes.append({"id": section, "plan_id": plan_id, "parent_id": None,
                              "position": len(nodes), "label": label, "number": label,
                              "level": 1, "heading": f"第{s + 1}项工作", "text": "",
                              "kind": "section"})
                for m in range(5):
                    node_id += 1
                    measures.append(node_id)
                    nodes.append({"id": node_id, "plan_id": plan_id, "parent_id": section,
                                  "position": len(nodes), "label": f"{m + 1}.",
                                  "number": str(m + 1),
                                  "level": 2, "heading": f"措施{m + 1}", "text": "",
                                  "kind": "measure"})
            span = (dates.end - dates.start).days
            school_depts = [d["id"] for d in depts[-10:]]
            parents: list[int] = []
            for t in range(tasks):
                task_id += 1
                due = dates.start + timedelta(days=rng.randint(10, span))
                roll = rng.random()
                if roll < 0.05:
                    status = "cancelled"
                elif roll < 0.12:
                    status = "blocked"
                elif due < today and roll < 0.75 or due >= today and roll < 0.25:
                    status = "done"
                elif roll < 0.9:
                    status = "in_progress"
                else:
                    status = "not_started"
                done_day = min(today, due + timedelta(days=rng.randint(-10, 6)))
                completed = (datetime.combine(done_day, datetime.min.time(), timezone.utc)
                             + timedelta(hours=rng.randint(0, 23))) if status == "done" else None
                accepted = status == "done" and rng.random() < 0.7
                # Every 50th task is a recurring measure; the next 4 are its occurrences.
                parent = None
                if t % 50 == 0:
                    parents.append(task_id)
                elif t % 50 <= 4:
                    parent = parents[-1]
                rows.append({
                    "id": task_id, "organization_id": org["id"], "plan_id": plan_id,
                    "plan_node_id": rng.choice(measures), "parent_id": parent,
                    "title": f"措施任务{task_id}", "description": "",
                    "lead_user_id": org["first_user"] + rng.randrange(count),
                    "lead_department_id": rng.choice(school_depts),
                    "start_date": dates.start, "due_date": due, "status": status,
                    "recurrence": "monthly" if t % 50 == 0 else None,
                    "progress": 100 if status == "done" else rng.choice([0, 20, 50]),
                    "acceptance": ("accepted" if accepted else "pending") if status == "done"
                    else "not_required",
                    "completed_at": completed,
                    "last_activity_at": now - timedelta(days=rng.randint(0, 40)),
                    "version": 1, "created_at": now, "updated_at": now})
        for model, data in ((Department, depts), (User, people), (Term, terms), (Plan, plans),
                            (PlanNode, nodes)):
            db.session.execute(insert(model), data)
        db.session.execute(insert(user_departments), memberships)
        for chunk in range(0, len(rows), 5000):
            db.session.execute(insert(Task), rows[chunk:chunk + 5000])
        if db.engine.dialect.name == "postgresql":
            for table in ("organizations", "departments", "users", "terms", "plans",
                          "plan_nodes", "tasks"):
                db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
            db.session.commit()
            db.session.execute(text("ANALYZE"))
        else:
            db.session.commit()
            db.session.execute(text("ANALYZE"))
        db.session.commit()
    print(f"built {schools} schools, {len(rows)} tasks, {len(people)} users "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    return {"district_leader": people[0]["email"],
            "school_leader": next(p["email"] for p in people if p["organization_id"] == 2)}


# ---------------------------------------------------------------------------- clients


class HttpClient:
    """One keep-alive connection with a hand-kept cookie (the session cookie may be marked
    Secure, which a cookie jar would not send over plain HTTP)."""

    def __init__(self, host: str, port: int):
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def get(self, path: str) -> int:
        return self.request("GET", path)[0]

    def login(self, email: str) -> None:
        _status, page = self.request("GET", "/account/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        form = {"identifier": email, "password": PASSWORD}
        if token:
            form["csrf_token"] = token.group(1)
        status, _ = self.request("POST", "/account/login", form)
        if status != 302:
            raise SystemExit(f"login as {email} failed: HTTP {status}")


class TestClient:
    def __init__(self, app):
        self.client = app.test_client()

    def get(self, path: str) -> int:
        return self.client.get(path).status_code

    def login(self, email: str) -> None:
        response = self.client.post("/account/login",
                                    data={"identifier": email, "password": PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"login as {email} failed: HTTP {response.status_code}")


def timed(make_client, email: str | None, path: str, requests: int, concurrency: int,
          warmup: int = 10) -> tuple[list[float], float]:
    """Per-request milliseconds and requests per second, ``concurrency`` clients at once."""
    clients = []
    for _ in range(concurrency):
        client = make_client()
        if email:
            client.login(email)
        for _ in range(warmup):
            status = client.get(path)
            if status != 200:
                raise SystemExit(f"GET {path}: HTTP {status}")
        clients.append(client)
    times: list[float] = []
    lock = threading.Lock()
    per_client = max(1, requests // concurrency)

    def run(client):
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            client.get(path)
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            times.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return times, len(times) / elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def start_gunicorn(database_url: str, port: int, workers: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, TRACKER_CONFIG="production",
               SECRET_KEY="bench-secret-key-not-for-production-use-0123456789",
               SCHEDULER_ENABLED="0")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-b",
         f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per school")
    parser.add_argument("--users", type=int, default=100, help="users per school")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--database-url", default=None,
                        help="default: a SQLite file in a temporary folder")
    parser.add_argument("--server", choices=["gunicorn", "client"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--skip-build", action="store_true",
                        help="reuse the data already in --database-url")
    args = parser.parse_args()

    database_url = args.database_url or \
        f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-')) / 'bench.sqlite'}"
    if args.skip_build:
        logins = {"district_leader": "u1@bench.edu.cn", "school_leader": "u4@bench.edu.cn"}
    else:
        logins = build(database_url, args.schools, args.tasks, args.users)

    process = None
    if args.server == "gunicorn":
        process = start_gunicorn(database_url, args.port, args.workers)

        def make_client():
            return HttpClient("127.0.0.1", args.port)
    else:
        from config import Config
        from tracker import create_app

        class BenchConfig(Config):
            SQLALCHEMY_DATABASE_URI = database_url
            WTF_CSRF_ENABLED = False

        app = create_app(BenchConfig, instance_path=tempfile.mkdtemp(prefix="bench-instance-"))

        def make_client():
            return TestClient(app)

    backend = database_url.split(":", 1)[0]
    pages = [("trivial (/healthz)", None, "/healthz"),
             ("school dashboard", logins["school_leader"], "/dashboard/"),
             ("district dashboard", logins["district_leader"], "/dashboard/")]
    results = []
    try:
        for name, email, path in pages:
            times, rate = timed(make_client, email, path, args.requests, args.concurrency)
            results.append((name, percentile(times, 0.5), percentile(times, 0.95),
                            statistics.mean(times), rate))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
    trivial = results[0][1]
    print(f"\n{backend}, {args.server}"
          f"{f' ({args.workers} workers)' if args.server == 'gunicorn' else ''}, "
          f"concurrency {args.concurrency}, {args.requests} requests per page, "
          f"{args.schools} schools × {args.tasks} tasks")
    print(f"{'page':<22}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'req/s':>8}{'p50 ÷ trivial':>15}")
    for name, p50, p95, mean, rate in results:
        print(f"{name:<22}{p50:>9.1f}{p95:>9.1f}{mean:>9.1f}{rate:>8.1f}{p50 / trivial:>15.1f}")


if __name__ == "__main__":
    main()
