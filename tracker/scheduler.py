"""The scheduler: jobs declared here as data, run in their own process.

Production runs ``flask --app wsgi tracker scheduler`` as one process; web
workers never start a scheduler. ``make run`` hosts one in the development
server process, started once (the development server runs without the reloader).
Durable state lives in our own tables, never in APScheduler job stores; each job
is an idempotent sweep that opens an app context, does its work and commits.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

log = logging.getLogger(__name__)

# Long enough for a restart to still run a missed job once (APScheduler's default is 1 s).
MISFIRE_GRACE_SECONDS = 6 * 3600

# Set by SIGTERM/SIGINT in ``run_until_stopped``. Jobs that may run long look at it and stop
# early: the outbox sender between sends, handing back what it claimed but did not send; the
# term reports between plans and between messages, leaving the rest to the next run.
stopping = threading.Event()


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[Flask], object]
    trigger: Callable[[Mapping[str, Any]], object]  # the app's config → trigger


def purge_stale_uploads(app: Flask, max_age_hours: int = 24) -> int:
    """Remove half-finished import uploads (previews never confirmed) after a day."""
    folder = Path(app.instance_path) / "imports"
    if not folder.is_dir():
        return 0
    cutoff = time.time() - max_age_hours * 3600
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _reminder_sweep(app: Flask) -> object:
    from tracker.reminders.jobs import reminder_sweep

    return reminder_sweep(app, stop=stopping)


def _daily_digest(app: Flask) -> object:
    from tracker.reminders.jobs import daily_digest

    return daily_digest(app, stop=stopping)


def _weekly_digest(app: Flask) -> object:
    from tracker.reminders.jobs import weekly_digest

    return weekly_digest(app, stop=stopping)


def _term_reports(app: Flask) -> object:
    from tracker.reports.services import term_end_job

    return term_end_job(app, stop=stopping)


# Reminders: each organisation's own clock decides (digest times, Mondays, quiet hours),
# so the digest jobs run often and do nothing until an organisation's time has come.
# Staleness is derived from last_activity_at when read (no stored flag, no job).
JOBS: list[Job] = [
    Job("purge-stale-uploads", purge_stale_uploads,
        lambda c: CronTrigger(hour=3, minute=17, timezone=c["TIMEZONE"])),
    # Every REMINDER_SWEEP_SECONDS (default five minutes).
    Job("reminder-sweep", _reminder_sweep,
        lambda c: IntervalTrigger(seconds=c["REMINDER_SWEEP_SECONDS"], timezone=c["TIMEZONE"])),
    Job("daily-digest", _daily_digest,
        lambda c: CronTrigger(minute="2,17,32,47", timezone=c["TIMEZONE"])),
    Job("weekly-leadership-digest", _weekly_digest,
        lambda c: CronTrigger(minute="7,37", timezone=c["TIMEZONE"])),
    # Term reports: every five minutes, so each school's own date counts and a failed
    # generation is retried on time (after 5, 30, 120 minutes); once per plan and stage.
    # A run with nothing due is one small query.
    Job("term-reports", _term_reports,
        lambda c: CronTrigger(minute="1-59/5", timezone=c["TIMEZONE"])),
]


def _run(app: Flask, job: Job) -> None:
    with app.app_context():
        from tracker.extensions import db

        try:
            result = job.func(app)
            db.session.commit()
            log.info("job %s done: %s", job.id, result)
        except Exception:
            db.session.rollback()
            log.exception("job %s failed", job.id)


def build_scheduler(app: Flask) -> BaseScheduler:
    """A background scheduler with every job of ``JOBS`` (not started)."""
    tz = app.config["TIMEZONE"]
    scheduler = BackgroundScheduler(timezone=tz, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS})
    for job in JOBS:
        scheduler.add_job(_run, job.trigger(app.config), args=(app, job), id=job.id, name=job.id,
                          replace_existing=True)
    return scheduler


def run_until_stopped(scheduler: BaseScheduler, stop_seconds: int) -> None:
    """Run a background scheduler until SIGTERM or SIGINT (systemd stop, Ctrl-C), then
    take no new job and let a running one finish (``shutdown(wait=True)``). A running
    sweep sees ``stopping``: it finishes the send in progress, hands back the rows it
    claimed but did not send, and ends. Past ``stop_seconds`` (a job that does not look at
    ``stopping``, or one send hanging that long) the process exits with status 1, and a
    send cut off there is "uncertain". A second signal stops the process at once."""
    stopping.clear()
    received: list[int] = []

    def on_signal(signum: int, _frame) -> None:
        received.append(signum)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    scheduler.start()
    stopping.wait()
    log.info("%s received: scheduler stopping; no new jobs, waiting up to %d s for running "
             "ones", signal.Signals(received[0]).name, stop_seconds)
    scheduler.pause()
    stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
    stopper.start()
    stopper.join(stop_seconds)
    if stopper.is_alive():
        log.error("a job was still running after %d s; scheduler exits without it",
                  stop_seconds)
        logging.shutdown()
        os._exit(1)  # a normal exit would wait for the job's (non-daemon) thread


__all__ = ["JOBS", "IntervalTrigger", "build_scheduler", "run_until_stopped", "stopping"]
