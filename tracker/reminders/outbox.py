"""The outbox sender: claim due rows, send, record. A boundary: it commits.

Row life: pending → claimed → sending → sent | pending (retry with backoff) | failed.

* Claiming: on PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` so several senders take
  disjoint rows; on SQLite one sender at a time holds the lease row
  (``sender_leases``), and writes are serialised by ``BEGIN IMMEDIATE`` anyway.
* Each step is a conditional UPDATE on (id, status, claimed_by = me), committed before
  the next step: a sender whose claim was taken back can never send or record.
* ``claimed`` → ``sending`` is committed *before* the external call, ``sent`` right
  after it. Recovery after a crash (lease expired): ``claimed`` rows go back to
  ``pending`` (nothing was sent); ``sending`` rows become ``failed`` with "delivery
  uncertain" and are shown on the admin page for a decision — never re-sent
  automatically. So no reminder is sent twice, and the only window in which one can be
  lost is a crash during a single external call; it is then visible, not silent.
* In-app notifications have no external call: claimed → sent in one transaction.
* Stopping (the scheduler got SIGTERM): the sender finishes the send in progress, gives
  back the rows it claimed and did not send (claimed → pending at once, not after the
  lease) and releases the SQLite lease, so a restarted sender goes on without waiting.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from tracker.extensions import db
from tracker.models import (
    OPEN_STATUSES,
    DeliveryChannel,
    GroupChannel,
    Notification,
    NotificationStatus,
    Organization,
    SenderLease,
    Task,
    User,
)
from tracker.reminders import planning, render
from tracker.reminders.channels import DeliveryError, email, webhooks

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
BATCH = 10  # small claims: concurrent senders share the work
IN_APP_BATCH = 1000
LEASE_NAME = "outbox"
UNCERTAIN = ("delivery uncertain: the sender stopped during the send; it may have been "
             "delivered — retry only if the recipient did not get it")
S = NotificationStatus


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def new_sender_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Outcome:
    id: int
    key: str
    channel: str
    to: str
    status: str
    error: str | None = None

    def line(self) -> str:
        text = f"{self.status:<9} {self.channel:<8} {self.to:<40} {self.key}"
        return text + (f"  ({self.error})" if self.error else "")


def _dialect() -> str:
    return db.session.get_bind().dialect.name


# --- the SQLite lease -----------------------------------------------------------------

def acquire_lease(holder: str) -> bool:
    now = wall_clock()
    lease = db.session.get(SenderLease, LEASE_NAME, with_for_update=True)
    if lease is None:
        db.session.add(SenderLease(name=LEASE_NAME, holder=holder, expires_at=now + LEASE))
    elif lease.holder == holder or lease.expires_at < now:
        lease.holder, lease.expires_at = holder, now + LEASE
    else:
        db.session.rollback()
        return False
    db.session.commit()
    return True


def renew_lease(holder: str) -> None:
    db.session.execute(update(SenderLease).where(
        SenderLease.name == LEASE_NAME, SenderLease.holder == holder)
        .values(expires_at=wall_clock() + LEASE))
    db.session.commit()


def release_lease(holder: str) -> None:
    db.session.execute(update(SenderLease).where(
        SenderLease.name == LEASE_NAME, SenderLease.holder == holder)
        .values(expires_at=wall_clock()))
    db.session.commit()


# --- claiming and recovery -----------------------------------------------------------

def recover() -> int:
    """Rows whose sender vanished: claimed → pending; sending → failed (uncertain)."""
    now = wall_clock()
    back = db.session.execute(update(Notification).where(
        Notification.status == S.claimed, Notification.claimed_until < now)
        .values(status=S.pending, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)).rowcount
    uncertain = db.session.execute(update(Notification).where(
        Notification.status == S.sending, Notification.claimed_until < now)
        .values(status=S.failed, last_error=UNCERTAIN, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if back or uncertain:
        log.warning("outbox recovery: %d claimed rows released, %d interrupted sends marked "
                    "uncertain", back, uncertain)
    return back + uncertain


def claim(holder: str, now: datetime, limit: int = BATCH) -> list[int]:
    """Claim due rows of the external channels (in-app rows go through ``deliver_in_app``)."""
    stmt = (select(Notification.id).where(Notification.status == S.pending,
                                          Notification.channel != DeliveryChannel.in_app,
                                          Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id).limit(limit))
    if _dialect() == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(db.session.execute(stmt).scalars())
    if ids:
        db.session.execute(update(Notification).where(
            Notification.id.in_(ids), Notification.status == S.pending)
            .values(status=S.claimed, claimed_by=holder, claimed_until=wall_clock() + LEASE)
            .execution_options(synchronize_session=False))
    db.session.commit()
    if not ids:
        return []
    return list(db.session.execute(select(Notification.id).where(
        Notification.id.in_(ids), Notification.claimed_by == holder,
        Notification.status == S.claimed).order_by(Notification.id)).scalars())


def give_back(holder: str) -> int:
    """This sender's claimed rows it will not send now: back to pending (nothing was sent).
    Rows already ``sending`` are left alone."""
    back = db.session.execute(update(Notification).where(
        Notification.status == S.claimed, Notification.claimed_by == holder)
        .values(status=S.pending, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return back


def _move(row_id: int, holder: str, frm: NotificationStatus, **values) -> bool:
    """Conditional transition; True if this sender still owned the row."""
    if values.get("status") in (S.pending, S.sent, S.failed, S.folded, S.cancelled):
        values.setdefault("claimed_by", None)
        values.setdefault("claimed_until", None)
    done = db.session.execute(update(Notification).where(
        Notification.id == row_id, Notification.status == frm,
        Notification.claimed_by == holder).values(**values)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return done


# --- sending ---------------------------------------------------------------------------

class _Skip(Exception):
    def __init__(self, status: NotificationStatus, reason: str, **values):
        self.status, self.reason, self.values = status, reason, values


def _recipient_label(row: Notification) -> str:
    if row.recipient is not None:
        return row.recipient.email if row.channel == DeliveryChannel.email else row.recipient.name
    if row.group_channel is not None:
        return f"{row.group_channel.kind.value}:{row.group_channel.name}"
    return "-"


def _check(row: Notification, now: datetime, rules: planning.Rules, tz: str) -> None:
    """Reasons not to send now (raises _Skip)."""
    if row.expires_at is not None and row.expires_at < now:
        raise _Skip(S.folded, "stale: folded into the digest")
    if row.task_id is not None and row.kind in planning.REMINDER_KINDS:
        status = db.session.execute(select(Task.status).where(Task.id == row.task_id)) \
            .scalar_one_or_none()
        if status not in OPEN_STATUSES:
            raise _Skip(S.cancelled, "the task was closed before the reminder went out")
    if row.recipient_user_id is not None and (row.recipient is None or not row.recipient.active):
        raise _Skip(S.cancelled, "the recipient is deactivated")
    if row.group_channel_id is not None and (row.group_channel is None
                                             or not row.group_channel.enabled):
        raise _Skip(S.cancelled, "the robot is disabled")
    later = planning.defer_out_of_quiet(now, rules, tz)
    if later != now:
        raise _Skip(S.pending, "quiet hours", next_attempt_at=later)


def _prepare(row: Notification) -> Callable[[], None]:
    """Render the message and validate the set-up; return the external call.

    Everything that can fail without contacting anybody fails here, before the row is
    marked ``sending``. Raises DeliveryError."""
    config = current_app.config
    if row.channel == DeliveryChannel.email:
        settings = email.SmtpSettings.from_config(config)
        subject, text, html = render.email(row, row.recipient)
        message = email.build_message(settings, to_name=row.recipient.name,
                                      to_addr=row.recipient.email, subject=subject, text=text,
                                      html=html, key=row.idempotency_key)
        return lambda: email.send(settings, message)
    if row.channel in (DeliveryChannel.dingtalk, DeliveryChannel.wecom,
                       DeliveryChannel.feishu):
        from tracker.reminders.services import extra_webhook_hosts, robot_of

        title, text = render.robot(row, row.group_channel)
        robot, hosts = robot_of(row.group_channel), extra_webhook_hosts()
        webhooks.check_url(robot.kind, robot.url, hosts)
        timeout = float(config.get("WEBHOOK_TIMEOUT", 10))
        return lambda: webhooks.send(robot, title, text, extra_hosts=hosts, timeout=timeout)
    raise DeliveryError(f"no sender for channel {row.channel.value}", permanent=True)


def _rules_for_org(cache: dict, org_id: int) -> tuple[planning.Rules, str]:
    if org_id not in cache:
        from tracker.reminders.services import rules_of, settings_for

        org = db.session.get(Organization, org_id)
        cache[org_id] = (rules_of(settings_for(org_id)), org.timezone)
    return cache[org_id]


def send_one(row_id: int, holder: str, now: datetime, cache: dict) -> Outcome | None:
    row = db.session.get(Notification, row_id, populate_existing=True)
    if row is None or row.status != S.claimed or row.claimed_by != holder:
        db.session.rollback()
        return None
    key, channel, label = row.idempotency_key, row.channel.value, _recipient_label(row)
    rules, tz = _rules_for_org(cache, row.organization_id)
    try:
        _check(row, now, rules, tz)
    except _Skip as skip:
        last_error = None if skip.status == S.pending else skip.reason
        _move(row_id, holder, S.claimed, status=skip.status, last_error=last_error,
              **skip.values)
        return Outcome(row_id, key, channel, label,
                       "deferred" if skip.status == S.pending else skip.status.value,
                       skip.reason)
    if row.channel == DeliveryChannel.in_app:
        _move(row_id, holder, S.claimed, status=S.sent, sent_at=now, attempts=row.attempts + 1,
              last_error=None)
        return Outcome(row_id, key, channel, label, "sent")
    attempts = row.attempts + 1
    group_channel_id = row.group_channel_id
    state = S.claimed
    try:
        call = _prepare(row)
        if not _move(row_id, holder, S.claimed, status=S.sending, attempts=attempts):
            return None
        state = S.sending  # the point of no return: a crash from here on is "uncertain"
        call()
    except DeliveryError as error:
        return _failed(row_id, holder, state, key, channel, label, attempts, error.message,
                       error.permanent, now, rules, tz, group_channel_id)
    except Exception as error:  # noqa: BLE001 — a bug in one row must not stop the sweep
        log.exception("sending notification %s failed unexpectedly", row_id)
        return _failed(row_id, holder, state, key, channel, label, attempts,
                       f"internal error: {error.__class__.__name__}", False, now, rules, tz,
                       group_channel_id)
    _move(row_id, holder, S.sending, status=S.sent, sent_at=wall_clock(), last_error=None)
    if group_channel_id is not None:
        _note_channel(group_channel_id, None)
    log.info("sent %s notification %s to %s", channel, key, label)
    return Outcome(row_id, key, channel, label, "sent")


def _failed(row_id, holder, state, key, channel, label, attempts, message, permanent, now,
            rules, tz, group_channel_id) -> Outcome:
    db.session.rollback()
    delay = None if permanent else planning.backoff(attempts)
    if delay is None:
        _move(row_id, holder, state, status=S.failed, last_error=message[:500],
              attempts=attempts)
        status = "failed"
    else:
        _move(row_id, holder, state, status=S.pending, last_error=message[:500],
              attempts=attempts,
              next_attempt_at=planning.defer_out_of_quiet(now + delay, rules, tz))
        status = "retry"
    if group_channel_id is not None:
        _note_channel(group_channel_id, message)
    log.warning("%s notification %s to %s: %s (attempt %d)", status, key, label, message,
                attempts)
    return Outcome(row_id, key, channel, label, status, message)


def _note_channel(channel_id: int, error: str | None) -> None:
    from tracker.reminders.services import record_channel_result

    channel = db.session.get(GroupChannel, channel_id)
    if channel is not None:
        record_channel_result(channel, error)
        db.session.commit()


def deliver_in_app(now: datetime, cache: dict, batch: int = IN_APP_BATCH) -> list[Outcome]:
    """In-app rows: the database write *is* the delivery, so it is done set-wise and
    exactly once (one conditional UPDATE per outcome per batch, one commit per batch)."""
    outcomes: list[Outcome] = []
    while True:
        stmt = (select(Notification.id, Notification.organization_id, Notification.task_id,
                       Notification.kind, Notification.expires_at,
                       Notification.recipient_user_id, Notification.idempotency_key)
                .where(Notification.status == S.pending,
                       Notification.channel == DeliveryChannel.in_app,
                       Notification.next_attempt_at <= now)
                .order_by(Notification.id).limit(batch))
        if _dialect() == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = db.session.execute(stmt).all()
        if not rows:
            db.session.rollback()
            return outcomes
        task_ids = {r.task_id for r in rows if r.task_id and r.kind in planning.REMINDER_KINDS}
        closed = set(db.session.execute(select(Task.id).where(
            Task.id.in_(task_ids), Task.status.not_in(OPEN_STATUSES))).scalars()) \
            if task_ids else set()
        people = dict(db.session.execute(select(User.id, User.active).where(
            User.id.in_({r.recipient_user_id for r in rows if r.recipient_user_id}))).all())
        names = dict(db.session.execute(select(User.id, User.name).where(
            User.id.in_(people))).all())
        groups: dict[tuple, list[int]] = {}
        for r in rows:
            rules, tz = _rules_for_org(cache, r.organization_id)
            later = planning.defer_out_of_quiet(now, rules, tz)
            if r.expires_at is not None and r.expires_at < now:
                outcome = (S.folded, "stale: folded into the digest", None)
            elif r.task_id in closed:
                outcome = (S.cancelled, "the task was closed before the reminder went out",
                           None)
            elif not people.get(r.recipient_user_id):
                outcome = (S.cancelled, "the recipient is deactivated", None)
            elif later != now:
                outcome = (S.pending, "quiet hours", later)
            else:
                outcome = (S.sent, None, None)
            groups.setdefault(outcome, []).append(r.id)
            status = "deferred" if outcome[0] == S.pending else outcome[0].value
            outcomes.append(Outcome(r.id, r.idempotency_key, "in_app",
                                    names.get(r.recipient_user_id, "-"), status, outcome[1]))
        for (status, reason, later), ids in groups.items():
            values: dict = {"status": status, "last_error": reason}
            if status == S.sent:
                values.update(sent_at=now, attempts=Notification.attempts + 1, last_error=None)
            elif status == S.pending:
                values.update(next_attempt_at=later, last_error=None)
            db.session.execute(update(Notification).where(
                Notification.id.in_(ids), Notification.status == S.pending).values(**values)
                .execution_options(synchronize_session=False))
        db.session.commit()


def deliver(now: datetime | None = None, *, holder: str | None = None, limit: int = 10_000,
            stop: threading.Event | None = None) -> list[Outcome]:
    """Send everything due at ``now``. Commits; never raises for a bad row or channel.

    ``stop`` is looked at before each claim and before each send: once it is set, the
    send in progress finishes, the rows claimed but not sent go back to pending and the
    SQLite lease is released (the scheduler is stopping)."""
    now = now or wall_clock()
    holder = holder or new_sender_id()
    stop = stop or threading.Event()
    sqlite_lease = _dialect() == "sqlite"
    if stop.is_set():
        return []
    if sqlite_lease and not acquire_lease(holder):
        log.info("another sender holds the outbox lease; not sending now")
        return []
    outcomes: list[Outcome] = []
    cache: dict = {}
    try:
        recover()
        outcomes.extend(deliver_in_app(now, cache))
        while len(outcomes) < limit and not stop.is_set():
            ids = claim(holder, now, min(BATCH, limit - len(outcomes)))
            if not ids:
                break
            for row_id in ids:
                if stop.is_set():
                    break
                outcome = send_one(row_id, holder, now, cache)
                if outcome is not None:
                    outcomes.append(outcome)
            if sqlite_lease:
                renew_lease(holder)
            # Rows deferred (quiet hours) or retried later are not due again now.
    finally:
        db.session.rollback()
        try:
            # Normally none are left; after a stop (or an error) the rest of the batch.
            back = give_back(holder)
            if back:
                log.info("outbox sender: %d claimed notifications given back unsent", back)
        finally:
            if sqlite_lease:
                release_lease(holder)
    if stop.is_set():
        log.info("outbox sender stopped early: %d notifications handled", len(outcomes))
    return outcomes


def pending_now(now: datetime) -> list[Notification]:
    """What a sweep at ``now`` would send (for --dry-run)."""
    return list(db.session.execute(select(Notification).where(
        Notification.status == S.pending, Notification.next_attempt_at <= now)
        .options(selectinload(Notification.recipient), selectinload(Notification.group_channel))
        .order_by(Notification.next_attempt_at, Notification.id)).scalars())


def label_of(row: Notification) -> str:
    return _recipient_label(row)


