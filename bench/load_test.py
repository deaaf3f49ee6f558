"""Load test: concurrent clients update tasks and read dashboards; nothing may be lost.

    python bench/load_test.py [--db postgresql|sqlite] [--seconds 60] [--clients 8]

Runs gunicorn (4 workers) on 127.0.0.1 against the district data set of bench/run.py.
Each client logs in as a school leader (two clients per school, so some updates collide),
then loops: open a task, post a status/progress change with a unique note, and every
fifth round read the school dashboard. Afterwards every accepted update must be in the
task's history (found by its note), conflicts must have answered 409, and no response may
be a 5xx. Prints the figures; exits 1 if an update was lost or a 5xx seen. Bounded in time,
127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402  (bench/run.py: data set, server, client)

VERSION = re.compile(r'name="version" type="hidden" value="(\d+)"')


def client_loop(port: int, email: str, seconds: float, seed: int, out: dict) -> None:
    rng = random.Random(seed)
    client = harness.Client(port)
    client.login(email)
    _, page = client.request("GET", "/tasks/?status=in_progress")
    ids = harness.task_ids(page)[:10] or harness.task_ids(client.request("GET", "/tasks/")[1])
    codes: Counter = Counter()
    accepted: list[str] = []
    deadline = time.time() + seconds
    round_no = 0
    while time.time() < deadline:
        round_no += 1
        task_id = rng.choice(ids)
        status, page = client.request("GET", f"/tasks/{task_id}")
        codes[status] += 1
        match = VERSION.search(page)
        token = harness.csrf_token(page)
        if status != 200 or not match or not token:
            continue
        note = f"load-{email}-{round_no}"
        form = {"version": match.group(1), "csrf_token": token, "note": note,
                "status": rng.choice(["in_progress", "blocked", "in_progress"]),
                "progress": str(rng.randrange(0, 100, 5))}
        status, _ = client.request("POST", f"/tasks/{task_id}/update", form,
                                   headers={"Accept": "application/json"})
        codes[status] += 1
        if status == 200:
            accepted.append(note)
        if round_no % 5 == 0:
            status, _ = client.request("GET", "/dashboard/")
            codes[status] += 1
    out[email + str(seed)] = {"codes": codes, "accepted": accepted, "rounds": round_no}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    harness.prepare_data(args.db, "district")
    url = harness.database_url(args.db, "district")
    server = harness.Server(url, args.workers)
    results: dict = {}
    try:
        threads = [threading.Thread(target=client_loop, args=(
            server.port, f"leader@school{1 + i // 2:03d}.bench", args.seconds, i, results))
            for i in range(args.clients)]
        started = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.seconds + 120)
        elapsed = time.time() - started
    finally:
        server.stop()

    codes: Counter = Counter()
    notes: list[str] = []
    for result in results.values():
        codes.update(result["codes"])
        notes.extend(result["accepted"])
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        found = set(conn.execute(text(
            "SELECT note FROM task_events WHERE note LIKE 'load-%'")).scalars())
    engine.dispose()
    lost = [n for n in notes if n not in found]
    server_errors = sum(n for code, n in codes.items() if code >= 500)
    requests = sum(codes.values())
    print(f"{args.clients} clients, {elapsed:.1f} s, {requests} requests "
          f"({requests / elapsed:.1f}/s) on {args.db} with {args.workers} workers")
    print("status codes: " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))
    print(f"updates accepted: {len(notes)}; conflicts (409): {codes.get(409, 0)}; "
          f"accepted but missing from the history: {len(lost)}; 5xx: {server_errors}")
    return 1 if lost or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
