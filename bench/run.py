"""Plan Tracker benchmark: a generated district under gunicorn, page by page.

    .venv/bin/python bench/run.py                                  # SQLite, district scale
    .venv/bin/python bench/run.py --db postgresql --json           # PostgreSQL, JSON on stdout
    .venv/bin/python bench/run.py --scale school --requests 50     # quick look

1. Data: generates the data set with ``flask db upgrade`` and ``flask tracker generate``
   (``tracker/generate.py``), or reuses it when its marker (scale, seed, generator and
   migrations) still matches. SQLite: ``bench/data/<scale>.sqlite``; PostgreSQL: the
   database ``tracker_bench`` on 127.0.0.1:5432 (user postgres), dropped and re-created
   when the marker changes.
2. Server: ``gunicorn -w 2 -b 127.0.0.1:<free port> wsgi:app`` with the production
   configuration (TRACKER_CONFIG=production, a fixed SECRET_KEY, no scheduler). Its
   session cookie is marked Secure; the client keeps cookies by hand, so plain HTTP on
   127.0.0.1 works without weakening the configuration.
3. Figures: after a warm-up, p50/p95 of sequential requests per page (``--requests``,
   each page bounded by ``--page-seconds``), each page's p50 as a multiple of the floor
   (``/healthz``: same app, same middleware, one ``SELECT 1``) and of the signed-in floor
   (the empty notification list: sign-in, layout and bell around nothing); requests/s with 8
   concurrent clients for my tasks and the school dashboard; peak RSS of the gunicorn
   master and each worker. Plan parsing runs in this process (no HTTP).

Figures only: nothing here passes or fails. The server is stopped at the end, also on
errors and Ctrl-C.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench1234"
SEED = 1
SCALES = {
    "school": {"schools": 1, "tasks_per_school": 300, "users": 100},
    "district": {"schools": 100, "tasks_per_school": 300, "users": 10_000},
}
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
PG_DATABASE = "tracker_bench"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"

STAFF = "staff@school001.bench"
LEADER = "leader@school001.bench"
DISTRICT_LEADER = "leader@district.bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data set


def database_url(db: str, scale: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{DATA / f'{scale}.sqlite'}"
    return (f"postgresql+psycopg://{PG_ADMIN['user']}@{PG_ADMIN['host']}:{PG_ADMIN['port']}"
            f"/{PG_DATABASE}")


def marker_for(db: str, scale: str) -> dict:
    from datetime import date

    from tracker.calendar import default_term

    digest = hashlib.sha256((ROOT / "tracker" / "generate.py").read_bytes()).hexdigest()[:16]
    migrations = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    return {"db": db, "scale": scale, **SCALES[scale], "seed": SEED, "generator": digest,
            "migrations": migrations, "term": default_term(date.today()).name}


def marker_path(db: str, scale: str) -> Path:
    return DATA / (f"{scale}.sqlite.json" if db == "sqlite" else f"postgresql-{PG_DATABASE}.json")


def pg_connect(dbname: str):
    import psycopg

    return psycopg.connect(**dict(PG_ADMIN, dbname=dbname), autocommit=True)


def data_is_current(db: str, scale: str) -> bool:
    path = marker_path(db, scale)
    if not path.exists() or json.loads(path.read_text()) != marker_for(db, scale):
        return False
    if db == "sqlite":
        return (DATA / f"{scale}.sqlite").exists()
    try:
        with pg_connect(PG_DATABASE) as conn:
            return conn.execute("SELECT 1 FROM users WHERE email = %s",
                                (DISTRICT_LEADER,)).fetchone() is not None
    except Exception:  # no database, no table: regenerate
        return False


def server_env(url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=url, TRACKER_CONFIG="production", SECRET_KEY=SECRET_KEY,
               SCHEDULER_ENABLED="0", PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)  # rate-limit storage in memory: the benchmark logs in 3 times
    return env


def prepare_data(db: str, scale: str) -> dict:
    """Generate the data set unless the marker says it is current; return timings."""
    DATA.mkdir(parents=True, exist_ok=True)
    if data_is_current(db, scale):
        log(f"reusing the {scale} data set ({marker_path(db, scale).name})")
        return {"reused": True}
    url = database_url(db, scale)
    marker_path(db, scale).unlink(missing_ok=True)
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DATA / f'{scale}.sqlite'}{suffix}").unlink(missing_ok=True)
    else:
        with pg_connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    env = server_env(url)
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    started = time.perf_counter()
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    upgraded = time.perf_counter()
    size = SCALES[scale]
    log(f"generating the {scale} data set on {db} …")
    result = subprocess.run(
        flask + ["tracker", "generate", "--schools", str(size["schools"]),
                 "--tasks-per-school", str(size["tasks_per_school"]),
                 "--users", str(size["users"]), "--seed", str(SEED)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    generated = time.perf_counter()
    log(result.stdout.strip())
    marker_path(db, scale).write_text(json.dumps(marker_for(db, scale), indent=1))
    return {"reused": False, "upgrade_s": round(upgraded - started, 1),
            "generate_s": round(generated - upgraded, 1), "generate_output": result.stdout.strip()}


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, url: str, workers: int):
        self.port = free_port()
        self.log_path = DATA / "gunicorn.log"
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
             "--timeout", "120", "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=server_env(url), stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer /healthz within 60 s: see {self.log_path}")

    def pids(self) -> tuple[int, list[int]]:
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        workers = [int(p) for p in children.read_text().split()] if children.exists() else []
        return master, workers

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # the group started above
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log_file.close()


def memory_mib(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    result = {"peak": fields.get("VmHWM"), "now": fields.get("VmRSS")}
    try:  # proportional set size: shared pages divided among the processes sharing them
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                result["pss_now"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return result


# ----------------------------------------------------------------------------- client


class Client:
    """One keep-alive connection; cookies kept by hand (the session cookie is Secure)."""

    def __init__(self, port: int, cookies: dict | None = None):
        self.port = port
        self.cookies = dict(cookies or {})
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None) -> tuple[int, str]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, text

    def login(self, email: str) -> None:
        _, page = self.request("GET", "/account/login")
        form = {"identifier": email, "password": PASSWORD}
        token = csrf_token(page)
        if token:
            form["csrf_token"] = token
        status, _ = self.request("POST", "/account/login", form)
        if status != 302:
            raise SystemExit(f"login as {email} failed: HTTP {status}")


def csrf_token(page: str) -> str | None:
    match = (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
             or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page))
    return match.group(1) if match else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def sequential(name: str, call, requests: int, warmup: int, budget_s: float) -> dict:
    """``call()`` returns the HTTP status; time it ``requests`` times (or for ``budget_s``)."""
    statuses: dict[int, int] = {}
    for _ in range(warmup):
        status = call()
        statuses[status] = statuses.get(status, 0) + 1
    times = []
    started = time.perf_counter()
    while len(times) < requests and (time.perf_counter() - started < budget_s or len(times) < 10):
        t0 = time.perf_counter()
        status = call()
        times.append((time.perf_counter() - t0) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    result = {"p50_ms": round(percentile(times, 0.5), 2),
              "p95_ms": round(percentile(times, 0.95), 2),
              "mean_ms": round(statistics.mean(times), 2), "n": len(times),
              "statuses": {str(k): v for k, v in sorted(statuses.items())}}
    log(f"  {name:<24} p50 {result['p50_ms']:8.1f} ms  p95 {result['p95_ms']:8.1f} ms  "
        f"n={result['n']}  {result['statuses']}")
    return result


def throughput(name: str, port: int, cookies: dict, path: str, concurrency: int,
               seconds: float) -> dict:
    counts = {"ok": 0, "other": 0}
    lock = threading.Lock()
    stop_at = [0.0]
    ready = threading.Barrier(concurrency + 1)

    def run():
        client = Client(port, cookies)
        client.request("GET", path)  # connect and warm the worker
        ready.wait()
        ok = other = 0
        while time.perf_counter() < stop_at[0]:
            status, _ = client.request("GET", path)
            if status == 200:
                ok += 1
            else:
                other += 1
        with lock:
            counts["ok"] += ok
            counts["other"] += other

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 3600
    ready.wait()
    started = time.perf_counter()
    stop_at[0] = started + seconds
    for thread in threads:
        thread.join(timeout=seconds + 130)
    elapsed = time.perf_counter() - started
    result = {"concurrency": concurrency, "seconds": round(elapsed, 1), "ok": counts["ok"],
              "non_200": counts["other"], "rps": round(counts["ok"] / elapsed, 1)}
    log(f"  {name:<24} {result['rps']:7.1f} req/s at concurrency {concurrency} "
        f"({result['ok']} ok, {result['non_200']} other in {result['seconds']} s)")
    return result


# ----------------------------------------------------------------------------- the run


def task_ids(page: str) -> list[int]:
    seen: list[int] = []
    for match in re.finditer(r'href="/tasks/(\d+)"', page):
        value = int(match.group(1))
        if value not in seen:
            seen.append(value)
    return seen


def wanted(args, name: str) -> bool:
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    return not parts or any(p in name for p in parts)


def measure_pages(server: Server, args) -> tuple[dict, list[str]]:
    port, notes, figures = server.port, [], {}
    n, warm, budget = args.requests, args.warmup, args.page_seconds
    anonymous = Client(port)
    staff, leader, district = Client(port), Client(port), Client(port)
    staff.login(STAFF)
    leader.login(LEADER)
    district.login(DISTRICT_LEADER)

    def get(client, path):
        return lambda: client.request("GET", path)[0]

    def measure(name, call):
        if name.startswith("floor") or wanted(args, name):
            figures[name] = sequential(name, call, n, warm, budget)

    measure("floor (/healthz)", get(anonymous, "/healthz"))
    # The cheapest page a signed-in user can open: the layout (navigation, bell) around an
    # empty notification list (nothing sends notifications during the benchmark).
    _, inbox = staff.request("GET", "/notifications/")
    if "/open" in inbox:
        notes.append("signed-in floor: staff@school001.bench has notifications, so the page "
                     "is not empty")
    measure("floor, signed in (/notifications/)", get(staff, "/notifications/"))
    measure("login page", get(Client(port), "/account/login"))
    measure("my tasks", get(staff, "/tasks/mine"))
    measure("task list", get(leader, "/tasks/"))

    _, mine = staff.request("GET", "/tasks/mine")
    ids = task_ids(mine)
    if not ids:
        raise SystemExit("no tasks on staff@school001.bench's page: is the data set complete?")
    cycle = iter(range(10**9))

    def task_page():
        return staff.request("GET", f"/tasks/{ids[next(cycle) % len(ids)]}")[0]

    measure("task page", task_page)

    # Status update (POST, as the page's script sends it): the staff member's own tasks.
    targets = []
    for task_id in ids:
        _, page = staff.request("GET", f"/tasks/{task_id}")
        version = re.search(r'name="version"[^>]*value="(\d+)"', page) or \
            re.search(r'value="(\d+)"[^>]*name="version"', page)
        token = csrf_token(page)
        if version and token and f"/tasks/{task_id}/update" in page:
            targets.append({"id": task_id, "version": int(version.group(1)), "token": token})
        if len(targets) == 5:
            break
    if targets:
        counter = iter(range(10**9))

        def update():
            i = next(counter)
            target = targets[i % len(targets)]
            status, body = staff.request(
                "POST", f"/tasks/{target['id']}/update",
                {"csrf_token": target["token"], "status": "in_progress",
                 "progress": str(10 + (i * 10) % 90), "note": f"bench {i}",
                 "version": str(target["version"])},
                headers={"Accept": "application/json"})
            if status == 200:
                target["version"] = json.loads(body)["version"]
            return status

        measure("status update (POST)", update)
    else:
        notes.append("status update: no task of staff@school001.bench offers the update form")

    measure("school dashboard", get(leader, "/dashboard/"))
    status, page = district.request("GET", "/dashboard/")
    if status == 200:
        measure("district dashboard", get(district, "/dashboard/"))
    else:
        notes.append(f"district dashboard: GET /dashboard/ as {DISTRICT_LEADER} answered "
                     f"HTTP {status}; not measured")
    status, _ = leader.request("GET", "/api/v1/stats")
    if status == 200:
        measure("/api/v1/stats", get(leader, "/api/v1/stats"))
        measure("/api/v1/stats (district)", get(district, "/api/v1/stats"))
    else:
        notes.append(f"/api/v1/stats answered HTTP {status}; not measured")
    return figures, notes


def plan_parse_figure(args) -> dict:
    from datetime import date

    from tracker.calendar import default_term
    from tracker.generate import sample_plan_text
    from tracker.plans.hints import TermCalendar
    from tracker.plans.parsing import parse_plan

    text = sample_plan_text(20_000)
    term = default_term(date.today())
    calendar = TermCalendar(start=term.start, mid=term.mid, end=term.end)
    return sequential(f"plan parse ({len(text)} chars)",
                      lambda: (parse_plan(text, calendar), 200)[1],
                      max(20, args.requests // 2), 3, args.page_seconds)


def report_figure(url: str, args) -> dict:
    """The school's term report as DOCX, composed from the data set in this process."""
    import tempfile
    from datetime import datetime, timezone

    from sqlalchemy import select

    from config import ProductionConfig
    from tracker import create_app
    from tracker.extensions import db
    from tracker.models import Plan, User
    from tracker.reports import services

    class Reporting(ProductionConfig):
        SQLALCHEMY_DATABASE_URI = url
        SECRET_KEY = globals()["SECRET_KEY"]
        SCHEDULER_ENABLED = False
        LOG_LEVEL = "WARNING"

    app = create_app(Reporting, instance_path=tempfile.mkdtemp(prefix="bench-"))
    with app.app_context():
        plan = db.session.execute(
            select(Plan).join(User, User.organization_id == Plan.organization_id)
            .where(User.email == LEADER).limit(1)).scalar_one()
        now = datetime.now(timezone.utc)
        return sequential("report (school, DOCX)",
                          lambda: (services.build_school(plan, ["docx"], now=now), 200)[1],
                          max(5, args.requests // 20), 1, args.page_seconds)


def query_counts(url: str) -> dict:
    """SQL statements per page, counted in-process with the Flask test client."""
    import tempfile

    from sqlalchemy import event

    from config import ProductionConfig
    from tracker import create_app
    from tracker.extensions import db

    class Counting(ProductionConfig):
        SQLALCHEMY_DATABASE_URI = url
        SECRET_KEY = SECRET_KEY
        SESSION_COOKIE_SECURE = False
        WTF_CSRF_ENABLED = False
        RATELIMIT_ENABLED = False
        SCHEDULER_ENABLED = False
        LOG_LEVEL = "WARNING"

    app = create_app(Counting, instance_path=tempfile.mkdtemp(prefix="bench-"))
    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, stmt, *a: statements.append(stmt))
    counts = {}
    for email, pages in ((STAFF, ("/tasks/mine", "/tasks/")),
                         (LEADER, ("/tasks/", "/dashboard/", "/api/v1/stats")),
                         (DISTRICT_LEADER, ("/dashboard/", "/api/v1/stats"))):
        client = app.test_client()
        client.post("/account/login", data={"identifier": email, "password": PASSWORD})
        for path in pages:
            client.get(path)  # warm
            statements.clear()
            status = client.get(path).status_code
            counts[f"{email} {path}"] = {"status": status, "statements": len(statements)}
    return counts


def machine(db: str) -> dict:
    info = {"python": platform.python_version(), "os": platform.platform(),
            "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    try:
        model = next(line.split(":", 1)[1].strip() for line in
                     Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        info["cpu"] = model
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        info["memory_gib"] = round(int(mem.split()[1]) / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    try:
        import gunicorn

        info["gunicorn"] = gunicorn.__version__
    except ImportError:
        pass
    if db == "postgresql":
        try:
            with pg_connect("postgres") as conn:
                info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        except Exception as error:  # figures still print without the version
            info["postgresql"] = f"unknown ({error.__class__.__name__})"
    return info


def print_table(report: dict) -> None:
    out = sys.stderr if report["json"] else sys.stdout
    size = report["scale"]
    print(f"\nPlan Tracker benchmark — {report['db']}, {size['name']} scale "
          f"({size['schools']} schools × {size['tasks_per_school']} tasks, {size['users']} users), "
          f"gunicorn {report['workers']} workers", file=out)
    print(f"{'figure':<36}{'p50 ms':>9}{'p95 ms':>9}{'n':>6}{'÷ floor':>9}"
          f"{'÷ signed-in':>13}", file=out)
    for name, fig in report["figures"].items():
        ratio, signed_in = report["ratios"].get(name), report["ratios_signed_in"].get(name)
        print(f"{name:<36}{fig['p50_ms']:>9.1f}{fig['p95_ms']:>9.1f}{fig['n']:>6}"
              f"{'' if ratio is None else f'{ratio:.1f}×':>9}"
              f"{'' if signed_in is None else f'{signed_in:.1f}×':>13}", file=out)
    for name, fig in report["throughput"].items():
        print(f"{name:<36}{fig['rps']:>9.1f} req/s at concurrency {fig['concurrency']} "
              f"({fig['non_200']} not 200)", file=out)
    rss = report["rss_mib"]
    workers = ", ".join(f"{w['peak']}" for w in rss["workers"])
    print(f"peak RSS MiB: master {rss['master']['peak']}, workers {workers}; "
          f"total {rss['total_peak']} (PSS now, shared pages split: "
          f"{rss.get('total_pss_now', '?')})", file=out)
    gen = report["generation"]
    if gen.get("reused"):
        print("data set: reused", file=out)
    else:
        print(f"data set: migrations {gen['upgrade_s']} s, generation {gen['generate_s']} s "
              "(the command's wall time, start-up included)", file=out)
    for note in report["notes"]:
        print(f"note: {note}", file=out)
    if report.get("queries"):
        print("SQL statements per page:", file=out)
        for key, value in report["queries"].items():
            print(f"  {key:<50} {value['statements']:>4} (HTTP {value['status']})", file=out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scale", choices=list(SCALES), default="district")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per page")
    parser.add_argument("--page-seconds", type=float, default=30,
                        help="stop timing a page after this long (at least 10 requests)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--throughput-seconds", type=float, default=10)
    parser.add_argument("--only", default="",
                        help="comma-separated parts of figure names to measure (the floor "
                             "always runs), e.g. --only 'my tasks,task list'")
    parser.add_argument("--queries", action="store_true",
                        help="also count SQL statements per page (in-process)")
    args = parser.parse_args()

    def interrupted(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    started = time.perf_counter()
    generation = prepare_data(args.db, args.scale)
    url = database_url(args.db, args.scale)
    report = {"db": args.db, "json": args.json, "workers": args.workers,
              "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
              "scale": {"name": args.scale, **SCALES[args.scale], "seed": SEED},
              "generation": generation}
    notes: list[str] = []
    log(f"starting gunicorn ({args.workers} workers) …")
    server = Server(url, args.workers)
    try:
        figures, page_notes = measure_pages(server, args)
        notes += page_notes
        staff, leader = Client(server.port), Client(server.port)
        staff.login(STAFF)
        leader.login(LEADER)
        report["throughput"] = {
            name: throughput(name, server.port, client.cookies, path, args.concurrency,
                             args.throughput_seconds)
            for name, client, path in (("my tasks", staff, "/tasks/mine"),
                                       ("school dashboard", leader, "/dashboard/"))
            if wanted(args, name)}
        master, workers = server.pids()
        rss = {"master": memory_mib(master), "workers": [memory_mib(pid) for pid in workers]}
        everyone = [rss["master"], *rss["workers"]]
        rss["total_peak"] = round(sum(p["peak"] for p in everyone), 1)
        if all("pss_now" in p for p in everyone):
            rss["total_pss_now"] = round(sum(p["pss_now"] for p in everyone), 1)
        report["rss_mib"] = rss
    finally:
        server.stop()
    floor = figures["floor (/healthz)"]["p50_ms"]
    report["ratios"] = {name: round(fig["p50_ms"] / floor, 2) for name, fig in figures.items()}
    signed_in = figures["floor, signed in (/notifications/)"]["p50_ms"]
    report["ratios_signed_in"] = {name: round(fig["p50_ms"] / signed_in, 2)
                                  for name, fig in figures.items()}
    if wanted(args, "plan parse"):
        figures["plan parse (in-process)"] = plan_parse_figure(args)
    if wanted(args, "report"):
        figures["report (school, DOCX, in-process)"] = report_figure(url, args)
    notes.append("plan parse and the report run in this process (no HTTP), so they have no "
                 "ratio to the floor")
    report["figures"] = figures
    if args.queries:
        report["queries"] = query_counts(url)
    report["notes"] = notes
    report["machine"] = machine(args.db)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    print_table(report)
    if args.json:
        report.pop("json")
        print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
