"""Where one page spends its time: in-process requests against the benchmark data set.

    .venv/bin/python bench/profile_page.py /tasks/mine                  # p50 over 50 requests
    .venv/bin/python bench/profile_page.py /dashboard/ --user leader --profile
    .venv/bin/python bench/profile_page.py /tasks/ --db postgresql --sql

No HTTP server and no gunicorn: the Flask test client calls the app directly, so the
figures are lower than ``bench/run.py``'s and only good for comparing before/after a
change. ``--profile`` prints the functions with the most cumulative time; ``--sql`` prints
each statement's count and time for one request. Reuses (or generates) the data set of
``bench/run.py``.
"""
from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as harness  # noqa: E402  (bench/run.py: data set and accounts)

USERS = {"staff": harness.STAFF, "leader": harness.LEADER, "district": harness.DISTRICT_LEADER}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scale", choices=list(harness.SCALES), default="district")
    parser.add_argument("--user", choices=list(USERS), default="staff")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sql", action="store_true")
    parser.add_argument("--top", type=int, default=45, help="functions listed by --profile")
    args = parser.parse_args()

    # before anything imports config.py, which reads the environment once
    os.environ.update(harness.server_env(harness.database_url(args.db, args.scale)))
    harness.prepare_data(args.db, args.scale)
    from wsgi import app

    client = app.test_client()
    client.environ_base.update({"wsgi.url_scheme": "https",  # production cookies are Secure
                                "HTTP_REFERER": "https://localhost/"})  # CSRF over HTTPS
    token = harness.csrf_token(client.get("/account/login").get_data(as_text=True))
    response = client.post("/account/login", data={"identifier": USERS[args.user], "password":
                                           harness.PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    logging.getLogger("tracker.request").setLevel(logging.WARNING)

    for _ in range(5):
        assert client.get(args.path).status_code == 200
    if args.sql:
        sql_report(app, client, args.path)
    times = []
    profiler = cProfile.Profile() if args.profile else None
    for _ in range(args.requests):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        client.get(args.path)
        if profiler:
            profiler.disable()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"{args.path} ({args.db}, {args.user}): p50 {statistics.median(times):.1f} ms, "
          f"min {times[0]:.1f} ms, p95 {times[int(len(times) * 0.95) - 1]:.1f} ms")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


def sql_report(app, client, path: str) -> None:
    from sqlalchemy import event

    from tracker.extensions import db

    with app.app_context():
        engine = db.engine
    statements: list[tuple[float, str]] = []

    def before(conn, cursor, statement, params, context, executemany):
        context._started = time.perf_counter()

    def after(conn, cursor, statement, params, context, executemany):
        statements.append(((time.perf_counter() - context._started) * 1000, statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    client.get(path)
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)
    print(f"{len(statements)} statements, {sum(t for t, _ in statements):.1f} ms in all")
    for elapsed, statement in sorted(statements, reverse=True)[:12]:
        print(f"  {elapsed:7.2f} ms  {' '.join(statement.split())[:150]}")


if __name__ == "__main__":
    main()
