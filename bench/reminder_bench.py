"""Reminder sweep over a district-sized SQLite database.

    .venv/bin/python bench/reminder_bench.py [--total 100000] [--due-percent 1]

Bulk-inserts organisations, users and tasks (``--due-percent`` of them open and
inside the reminder window: overdue or due within 7 days; the rest due later or
done), then times: the first sweep (plan + write the outbox), sending the in-app
rows, and a steady-state sweep (every 5 minutes: nothing new to send). A second
table varies the total at a fixed number of due tasks, to show that the sweep
grows with due tasks, not with the total.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from config import TestingConfig  # noqa: E402
from tracker import create_app  # noqa: E402
from tracker.extensions import db  # noqa: E402
from tracker.models import (  # noqa: E402
    Notification,
    NotificationPreference,
    Organization,
    Role,
    Task,
    TaskStatus,
    User,
)
from tracker.reminders import outbox  # noqa: E402
from tracker.reminders.jobs import sweep  # noqa: E402

TZ = "Asia/Shanghai"
TODAY = date(2024, 10, 14)
NOW = datetime.combine(TODAY, clock(9, 5), ZoneInfo(TZ)).astimezone(timezone.utc)
SCHOOLS = 100
USERS_PER_SCHOOL = 100


def build(path: Path, total: int, due: int, seed: int = 1) -> object:
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"

    app = create_app(Config, instance_path=str(path.parent / "instance"))
    rng = random.Random(seed)
    with app.app_context():
        db.create_all()
        db.session.execute(insert(Organization), [
            {"id": i + 1, "name": f"学校{i + 1}", "timezone": TZ} for i in range(SCHOOLS)])
        users = [{"id": o * USERS_PER_SCHOOL + u + 1, "organization_id": o + 1,
                  "name": f"老师{o}-{u}", "email": f"t{o}-{u}@school.test",
                  "role": Role.leader if u == 0 else Role.staff}
                 for o in range(SCHOOLS) for u in range(USERS_PER_SCHOOL)]
        db.session.execute(insert(User), users)
        db.session.execute(insert(NotificationPreference), [
            {"user_id": u["id"], "email": False, "in_app": True, "daily_digest": True,
             "weekly_digest": True} for u in users])
        due_ids = set(rng.sample(range(total), due))
        rows = []
        for i in range(total):
            org = i % SCHOOLS + 1
            owner = (org - 1) * USERS_PER_SCHOOL + rng.randrange(1, USERS_PER_SCHOOL) + 1
            if i in due_ids:  # inside the window: overdue up to 20 days or due within 7
                day, status = TODAY + timedelta(days=rng.randint(-20, 7)), TaskStatus.in_progress
            elif rng.random() < 0.5:  # done, any time
                day, status = TODAY + timedelta(days=rng.randint(-120, 120)), TaskStatus.done
            else:  # open, due later in the term
                day, status = TODAY + timedelta(days=rng.randint(8, 120)), TaskStatus.not_started
            rows.append({"organization_id": org, "title": f"任务{i}", "lead_user_id": owner,
                         "due_date": day, "status": status, "version": 1})
            if len(rows) == 10_000:
                db.session.execute(insert(Task), rows)
                rows = []
        if rows:
            db.session.execute(insert(Task), rows)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return app


def timed(app, label_kinds=("reminders",), send=True) -> tuple[float, float, int]:
    with app.app_context():
        start = time.perf_counter()
        result = sweep(NOW, kinds=label_kinds, send=False)
        planned = time.perf_counter() - start
        start = time.perf_counter()
        sent = len(outbox.deliver(NOW)) if send else 0
        sending = time.perf_counter() - start
        db.session.remove()
    return planned, sending, len(result.planned) if sent == 0 else sent


def run(total: int, due: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        app = build(Path(tmp) / "bench.sqlite", total, due)
        built = time.perf_counter() - start
        first_plan, first_send, sent = timed(app)
        steady_plan, steady_send, _ = timed(app)
        with app.app_context():
            rows = db.session.execute(db.select(db.func.count()).select_from(Notification)).scalar()
            db.engine.dispose()
    return {"total": total, "due": due, "build": built, "first_plan": first_plan,
            "first_send": first_send, "sent": sent, "rows": rows,
            "steady": steady_plan + steady_send}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--due-percent", type=float, default=1.0)
    args = parser.parse_args()
    due = int(args.total * args.due_percent / 100)
    print(f"{SCHOOLS} schools, {SCHOOLS * USERS_PER_SCHOOL} users, SQLite, "
          f"in-app channel, now = {NOW.astimezone(ZoneInfo(TZ)):%Y-%m-%d %H:%M} local")
    header = (f"{'tasks':>8} {'due':>6} {'plan+write s':>13} {'send s':>8} {'sent':>6} "
              f"{'sweep total s':>14} {'steady sweep s':>15}")
    print(header)
    cases = [(args.total, due), (args.total, due * 2), (args.total // 2, due),
             (args.total * 2, due)]
    for total, n_due in cases:
        r = run(total, n_due)
        print(f"{r['total']:>8} {r['due']:>6} {r['first_plan']:>13.3f} {r['first_send']:>8.3f} "
              f"{r['sent']:>6} {r['first_plan'] + r['first_send']:>14.3f} {r['steady']:>15.3f}")


if __name__ == "__main__":
    main()
