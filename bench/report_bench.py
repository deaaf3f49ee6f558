"""Report benchmark: generation time of a school report and of a district report.

    .venv/bin/python bench/report_bench.py                    # SQLite in a temp folder
    .venv/bin/python bench/report_bench.py --database-url postgresql://postgres@127.0.0.1/bench

1. A school whose plan has at least ``--measures`` measures (300; the generator's
   ``tasks_per_school`` is raised until the plan has that many, occurrences of
   recurring measures come on top), built with ``tracker.generate``; its report is
   generated ``--repeat`` times per format (DOCX, PDF, HTML, XLSX) in a warm process,
   and the median printed, with the parts (load, compose, charts) shown separately.
2. A district of ``--schools`` (100) schools × ``--tasks`` (300) tasks: the district
   report in all four formats, timed end to end.

Targets (issue 7): school DOCX < 2 s, PDF < 6 s; district < 30 s. Figures only.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_app(database_url: str, instance: str):
    from config import Config
    from tracker import create_app
    from tracker.extensions import db

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = database_url
        SCHEDULER_ENABLED = False

    app = create_app(BenchConfig, instance_path=instance)
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.create_all()
    return app


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measures_per_school(tasks: int, today: date) -> int:
    from tracker import generate as generator

    rows = generator.build_district(generator.Spec(schools=1, tasks_per_school=tasks, users=40,
                                                   seed=3, today=today), password_hash="x")
    district_id = rows.organizations[0]["id"]
    return sum(1 for t in rows.tasks
               if t.get("parent_id") is None and t["organization_id"] != district_id)


def school(app, measures: int, repeat: int, today: date) -> None:
    from sqlalchemy import func, select

    from tracker import generate as generator
    from tracker.extensions import db
    from tracker.models import Plan, Task
    from tracker.reports import charts, compose, data, services

    tasks = measures
    while measures_per_school(tasks, today) < measures:  # pure: no database needed
        tasks += 10
    with app.app_context():
        generator.generate(db.session, generator.Spec(schools=1, tasks_per_school=tasks,
                                                      users=40, seed=3, today=today))
        db.session.commit()
        plan = db.session.execute(select(Plan).join(Task, Task.plan_id == Plan.id)
                                  .limit(1)).scalar_one()
        count = db.session.execute(select(func.count()).where(
            Task.plan_id == plan.id, Task.parent_id.is_(None))).scalar()
        total = db.session.execute(select(func.count()).where(Task.plan_id == plan.id)).scalar()
        print(f"school: plan {plan.id} with {count} measures, {total} tasks "
              f"(generator tasks_per_school={tasks})")
        now = datetime.combine(today, datetime.min.time(), timezone.utc)
        services.build_school(plan, list(services.FORMATS), now=now)  # warm: imports, fonts
        load, report_input = timed(lambda: data.load(db.session, plan, now), repeat)
        comp, report = timed(lambda: compose.compose(report_input), repeat)
        draw, images = timed(lambda: charts.render_all(report.document.charts), repeat)
        print(f"  load {load:.2f} s, compose {comp:.3f} s, charts {draw:.2f} s "
              f"({len(images)} charts)")
        for fmt in ("docx", "pdf", "html", "xlsx"):
            seconds, output = timed(lambda f=fmt: services.build_school(plan, [f], now=now),
                                    repeat)
            target = {"docx": " (target < 2 s)", "pdf": " (target < 6 s)"}.get(fmt, "")
            print(f"  {fmt}: {seconds:.2f} s end to end, {len(output.files[fmt]) // 1024} kB"
                  f"{target}")


def district(app, schools: int, tasks: int, today: date) -> None:

    from tracker import generate as generator
    from tracker.extensions import db
    from tracker.models import Organization
    from tracker.reports import services

    with app.app_context():
        started = time.perf_counter()
        result = generator.generate(db.session, generator.Spec(
            schools=schools, tasks_per_school=tasks, users=max(10 * schools, 600), seed=4,
            today=today))
        db.session.commit()
        generator.analyze(db.session)
        db.session.commit()
        print(f"district: {schools} schools × {tasks} tasks generated in "
              f"{time.perf_counter() - started:.1f} s")
        org = db.session.get(Organization, result.district_id)
        now = datetime.combine(today, datetime.min.time(), timezone.utc)
        started = time.perf_counter()
        output = services.build_district(org, list(services.FORMATS), now=now)
        seconds = time.perf_counter() - started
        sizes = ", ".join(f"{k} {len(v) // 1024} kB" for k, v in output.files.items())
        print(f"  district report, 4 formats: {seconds:.2f} s (target < 30 s); {sizes}")
        for fmt in ("pdf", "docx"):
            seconds, _ = timed(lambda f=fmt: services.build_district(org, [f], now=now), 1)
            print(f"  district {fmt}: {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--measures", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--today", default=None, help="YYYY-MM-DD (default: 10 days before "
                        "the end of the current default term)")
    parser.add_argument("--skip-district", action="store_true")
    args = parser.parse_args()
    from datetime import timedelta

    from tracker.calendar import default_term

    today = (date.fromisoformat(args.today) if args.today
             else default_term(date.today()).end - timedelta(days=10))
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite"
        school(make_app(url, folder), args.measures, args.repeat, today)
        if not args.skip_district:
            url = args.database_url or f"sqlite:///{folder}/district.sqlite"
            district(make_app(url, folder), args.schools, args.tasks, today)


if __name__ == "__main__":
    main()
