"""Helpers for ``flask tracker remind``: parse --now, print what happened."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import click

from tracker.reminders.jobs import SweepResult


def parse_now(text: str | None, default_tz: str) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date-time such as "
                                 "2024-10-08T07:05+08:00", param_hint="--now") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz))
    return value.astimezone(timezone.utc)


def print_result(result: SweepResult, *, dry_run: bool) -> None:
    for row in result.planned:
        state = "folded" if row["status"].value == "folded" else "planned"
        click.echo(f"{state:<9} {row['channel'].value:<8} {row['idempotency_key']}")
    if dry_run:
        for line in result.would_send:
            click.echo(f"would send {line}")
        click.echo(f"dry run: {len(result.planned)} would be written, "
                   f"{len(result.would_send)} would be sent; nothing changed")
        return
    for outcome in result.outcomes:
        click.echo(outcome.line())
    counts = result.counts()
    click.echo("sweep: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
