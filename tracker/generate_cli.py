"""``flask tracker generate``: a thin wrapper over ``tracker.generate``."""
from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.extensions import db
from tracker.i18n import local_today


@click.command("generate")
@click.option("--schools", default=100, show_default=True, type=click.IntRange(1, 2000))
@click.option("--tasks-per-school", default=300, show_default=True,
              type=click.IntRange(1, 100_000), help="Including occurrences of recurring tasks.")
@click.option("--users", default=10_000, show_default=True, type=click.IntRange(1),
              help="Across the district (up to 24 at the district, the rest spread over the schools).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--today", "today_text", default=None, metavar="YYYY-MM-DD",
              help="Pretend it is this day (default: today in the TIMEZONE setting).")
@with_appcontext
def generate(schools: int, tasks_per_school: int, users: int, seed: int,
             today_text: str | None) -> None:
    """Build a benchmark district (accounts admin|leader|staff@school001.bench … and
    @district.bench, password bench1234)."""
    from datetime import date

    from tracker import generate as generator

    try:
        today = (date.fromisoformat(today_text) if today_text
                 else local_today(current_app.config["TIMEZONE"]))
        spec = generator.Spec(schools=schools, tasks_per_school=tasks_per_school, users=users,
                              seed=seed, today=today)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if generator.district_exists(db.session):
        raise click.ClickException("a generated district is already in this database "
                                   "(leader@district.bench); use an empty database")
    try:
        result = generator.generate(db.session, spec)
        started = time.perf_counter()
        db.session.commit()
        generator.analyze(db.session)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    seconds = result.seconds + time.perf_counter() - started
    counts = ", ".join(f"{n} {table}" for table, n in result.counts.items())
    click.echo(f"generated in {seconds:.1f} s: {counts}")
    click.echo(f"district organisation id {result.district_id}; log in as "
               + ", ".join(result.accounts.values()) + f" (password {generator.BENCH_PASSWORD})")
