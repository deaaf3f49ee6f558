"""Sweeps: plan what is due into the outbox, commit, then send. Boundaries: they commit.

Used by the scheduler jobs and by ``flask tracker remind``. Each sweep is idempotent:
run twice at the same ``now`` the second one writes and sends nothing.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import Flask

from tracker.extensions import db
from tracker.reminders import outbox, services

log = logging.getLogger(__name__)

ALL_KINDS = ("reminders", "daily", "weekly")


@dataclass
class SweepResult:
    planned: list[dict] = field(default_factory=list)
    outcomes: list[outbox.Outcome] = field(default_factory=list)
    would_send: list[str] = field(default_factory=list)  # dry run

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {"planned": len(self.planned),
                                  "folded": sum(1 for r in self.planned
                                                if r["status"].value == "folded")}
        for outcome in self.outcomes:
            result[outcome.status] = result.get(outcome.status, 0) + 1
        return result


def sweep(now: datetime | None = None, *, kinds: tuple[str, ...] = ALL_KINDS,
          dry_run: bool = False, send: bool = True,
          stop: threading.Event | None = None) -> SweepResult:
    """Plan what is due at ``now`` into the outbox, commit, then send. ``stop``: once set,
    the sender ends after the send in progress (the scheduler is stopping)."""
    now = now or datetime.now(timezone.utc)
    result = SweepResult()
    try:
        result.planned = services.plan_all(now, kinds)
        if dry_run:
            result.would_send = [
                f"{row.channel.value:<8} {outbox.label_of(row):<40} {row.idempotency_key}"
                for row in outbox.pending_now(now)]
            db.session.rollback()
            return result
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if send:
        result.outcomes = outbox.deliver(now, stop=stop)
    return result


def _job(app: Flask, kinds: tuple[str, ...], stop: threading.Event | None) -> dict[str, int]:
    return sweep(kinds=kinds, stop=stop).counts()


def reminder_sweep(app: Flask, stop: threading.Event | None = None) -> dict[str, int]:
    """Every few minutes: reminders due now, then everything pending in the outbox."""
    return _job(app, ("reminders",), stop)


def daily_digest(app: Flask, stop: threading.Event | None = None) -> dict[str, int]:
    """Hourly: each organisation's daily digests once its digest time has come."""
    return _job(app, ("daily",), stop)


def weekly_digest(app: Flask, stop: threading.Event | None = None) -> dict[str, int]:
    """Hourly on Mondays (and catching up later that week): the leadership digest."""
    return _job(app, ("weekly",), stop)
