"""Reminder services: settings, preferences, channels, planning into the outbox, inbox.

Services flush and never commit; the boundary (view, CLI command, scheduler job)
commits. The outbox sender (``outbox.deliver``) is itself a boundary: each external
send is bracketed by its own commits.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, Text, bindparam, func, inspect, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import flag_modified

from tracker import audit
from tracker.crypto import is_encrypted, is_unreadable
from tracker.extensions import db
from tracker.inputs import whole_number
from tracker.models import (
    OPEN_STATUSES,
    ChannelKind,
    DeliveryChannel,
    Department,
    GroupChannel,
    Notification,
    NotificationPreference,
    NotificationStatus,
    Organization,
    ReminderSettings,
    Role,
    Task,
    TaskStatus,
    User,
    utcnow,
)
from tracker.reminders import planning
from tracker.reminders.channels import DeliveryError, webhooks
from tracker.reminders.planning import Directory, Person, Rules, TaskInfo
from tracker.services import ServiceError

log = logging.getLogger(__name__)

DIGEST_MAX_ITEMS = 30
WEEKLY_MAX_ITEMS = 20
KEY_CHUNK = 500


# --- settings -----------------------------------------------------------------------

def parse_days_before(text: str) -> tuple[int, ...]:
    """"7, 1" → (7, 1). Raises ServiceError on anything but whole days 1–365."""
    values: list[int] = []
    for part in (text or "").replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        number = whole_number(part)
        if number is None or not 1 <= number <= 365:
            raise ServiceError(_("Days before the due date: whole numbers from 1 to 365, "
                                 "separated by commas (e.g. 7, 1)."), field="days_before")
        values.append(number)
    return tuple(sorted(set(values), reverse=True))


def settings_for(org_id: int) -> ReminderSettings:
    """The organisation's settings row, or an unsaved one with the defaults."""
    row = db.session.get(ReminderSettings, org_id)
    if row is None:
        row = ReminderSettings(organization_id=org_id)
        for column in ReminderSettings.__table__.columns:
            if column.default is not None and not callable(column.default.arg):
                setattr(row, column.key, column.default.arg)
    return row


def rules_of(row: ReminderSettings) -> Rules:
    return Rules(days_before=parse_days_before(row.days_before), on_due=row.on_due,
                 overdue_every_days=row.overdue_every_days,
                 escalate_after_days=row.escalate_after_days, quiet_start=row.quiet_start,
                 quiet_end=row.quiet_end, daily_cap=row.daily_cap, digest_time=row.digest_time,
                 weekly_time=row.weekly_time, digest_days_ahead=row.digest_days_ahead)


SETTINGS_FIELDS = ("days_before", "on_due", "overdue_every_days", "escalate_after_days",
                   "quiet_start", "quiet_end", "daily_cap", "digest_time", "weekly_time",
                   "digest_days_ahead")


def _settings_values(row: ReminderSettings) -> dict:
    """The rules as the audit log shows them (times as "HH:MM")."""
    values = {f: getattr(row, f) for f in SETTINGS_FIELDS}
    return {f: v.strftime("%H:%M") if isinstance(v, time) else v for f, v in values.items()}


def save_settings(org: Organization, actor: User | None, *, days_before: str, on_due: bool,
                  overdue_every_days: int, escalate_after_days: int, quiet_start: time,
                  quiet_end: time, daily_cap: int, digest_time: time, weekly_time: time,
                  digest_days_ahead: int) -> ReminderSettings:
    days = parse_days_before(days_before)
    probe = Rules(quiet_start=quiet_start, quiet_end=quiet_end)
    if planning.in_quiet_hours(digest_time, probe):
        raise ServiceError(_("The daily digest time falls inside the quiet hours."),
                           field="digest_time")
    if planning.in_quiet_hours(weekly_time, probe):
        raise ServiceError(_("The weekly digest time falls inside the quiet hours."),
                           field="weekly_time")
    before = _settings_values(settings_for(org.id))  # the defaults when never saved
    row = db.session.get(ReminderSettings, org.id)
    if row is None:
        row = ReminderSettings(organization_id=org.id)
        db.session.add(row)
    row.days_before = ",".join(map(str, days))
    row.on_due = on_due
    row.overdue_every_days = overdue_every_days
    row.escalate_after_days = escalate_after_days
    row.quiet_start, row.quiet_end = quiet_start, quiet_end
    row.daily_cap = daily_cap
    row.digest_time, row.weekly_time = digest_time, weekly_time
    row.digest_days_ahead = digest_days_ahead
    after = _settings_values(row)
    changed = {f: [old, after[f]] for f, old in before.items() if after[f] != old}
    if changed:
        audit.record(org.id, actor, "reminder.settings", org.name, **changed)
    db.session.flush()
    return row


def preferences_for(user_id: int) -> NotificationPreference:
    row = db.session.get(NotificationPreference, user_id)
    return row or NotificationPreference(user_id=user_id, email=True, in_app=True,
                                         daily_digest=True, weekly_digest=True)


def save_preferences(user: User, *, email: bool, in_app: bool, daily_digest: bool,
                     weekly_digest: bool) -> NotificationPreference:
    row = db.session.get(NotificationPreference, user.id)
    if row is None:
        row = NotificationPreference(user_id=user.id)
        db.session.add(row)
    row.email, row.in_app = email, in_app
    row.daily_digest, row.weekly_digest = daily_digest, weekly_digest
    db.session.flush()
    return row


def channels_of(pref: NotificationPreference, user) -> tuple[str, ...]:
    result = []
    if pref.in_app:
        result.append("in_app")
    if pref.email and user.email:
        result.append("email")
    return tuple(result)


# --- group channels -----------------------------------------------------------------

def extra_webhook_hosts() -> list[str]:
    value = current_app.config.get("WEBHOOK_ALLOWED_HOSTS") or []
    if isinstance(value, str):
        value = value.split(",")
    return [h.strip() for h in value if h.strip()]


def _robot_target(channel: GroupChannel) -> str:
    return f"robot {channel.id} {channel.name}"


def _robot_facts(channel: GroupChannel) -> dict:
    """What the audit log compares between two versions of a robot (never credentials)."""
    return {"name": channel.name,
            "department": channel.department.name if channel.department else None,
            "enabled": channel.enabled}


def _replaced(old: object, new: str) -> bool:
    """A credential entered on the form that differs from the stored one (or replaces an
    unreadable one). Only compared here; the audit log gets the field's name."""
    return bool(new) and (is_unreadable(old) or old != new)


def save_channel(org: Organization, channel: GroupChannel | None, actor: User | None, *,
                 kind: str, name: str, webhook_url: str, secret: str | None,
                 department_id: int | None, enabled: bool) -> GroupChannel:
    """Create or change a robot. An empty ``webhook_url`` or ``secret`` keeps the stored one
    (unless it cannot be decrypted any more: then it must be entered again).

    Audited with the fields that changed; of the credentials only which were replaced."""
    webhook_url = (webhook_url or "").strip()
    secret = (secret or "").strip()
    if not webhook_url:
        if channel is None:
            raise ServiceError(_("Enter the robot's webhook URL."), field="webhook_url")
        if is_unreadable(channel.webhook_url):
            raise ServiceError(_("The stored webhook URL cannot be decrypted with the current "
                                 "encryption key: enter it again."), field="webhook_url")
        webhook_url = channel.webhook_url
    if not secret and channel is not None and is_unreadable(channel.secret):
        raise ServiceError(_("The stored signing secret cannot be decrypted with the current "
                             "encryption key: enter it again."), field="secret")
    try:
        webhooks.check_url(kind, webhook_url, extra_webhook_hosts())
    except DeliveryError as error:
        if error.message == webhooks.UNSAFE_CHARACTERS:
            raise ServiceError(_("Webhook URL: it contains spaces, control characters or "
                                 "non-ASCII characters. Copy it again from the robot's "
                                 "settings."), field="webhook_url") from None
        raise ServiceError(_("Webhook URL: %(reason)s", reason=error.message),
                           field="webhook_url") from None
    dept = None
    if department_id:
        dept = db.session.get(Department, department_id)
        if dept is None or dept.organization_id != org.id:
            raise ServiceError(_("Unknown department."), field="department_id")
    if channel is None:
        before, replaced = None, []
        channel = GroupChannel(organization_id=org.id)
        db.session.add(channel)
    else:
        before = {"kind": channel.kind.value, **_robot_facts(channel)}
        replaced = [f for f, new in (("webhook_url", webhook_url), ("secret", secret))
                    if _replaced(getattr(channel, f), new)]
    channel.kind = ChannelKind(kind)
    channel.name = name.strip()
    channel.webhook_url = webhook_url
    if secret:
        channel.secret = secret
    channel.department = dept
    channel.enabled = enabled
    _write_credentials_again(channel)
    db.session.flush()
    if before is None:
        audit.record(org.id, actor, "robot.create", _robot_target(channel), kind=kind,
                     department=dept.name if dept else None, enabled=enabled,
                     signed=bool(secret))
    else:
        after = {"kind": kind, **_robot_facts(channel)}
        changed = {f: [old, after[f]] for f, old in before.items() if after[f] != old}
        if changed or replaced:
            details = {"kind": kind, **changed}
            if replaced:
                details["credentials"] = replaced
            audit.record(org.id, actor, "robot.update", _robot_target(channel), **details)
    return channel


def set_channel_enabled(channel: GroupChannel, enabled: bool, actor: User | None) -> None:
    """Switch a robot on or off, leaving its stored credentials as they are: a robot whose
    credentials cannot be decrypted is switched off without entering them again (and on,
    though it sends nothing until they are: ``robot_of``)."""
    if channel.enabled == enabled:
        return
    channel.enabled = enabled
    audit.record(channel.organization_id, actor, "robot.enable" if enabled else "robot.disable",
                 _robot_target(channel), kind=channel.kind.value)
    db.session.flush()


def delete_channel(channel: GroupChannel, actor: User | None) -> None:
    """Remove a robot (its outbox rows go with it)."""
    audit.record(channel.organization_id, actor, "robot.delete", _robot_target(channel),
                 kind=channel.kind.value,
                 department=channel.department.name if channel.department else None)
    db.session.delete(channel)
    db.session.flush()


def _write_credentials_again(channel: GroupChannel) -> None:
    """Make the next flush write both credentials even if unchanged, so they are encrypted
    with the current key (legacy plain text, or a value under an old key)."""
    if inspect(channel).persistent:
        for name in ("webhook_url", "secret"):
            getattr(channel, name)  # loads it if expired: only a loaded attribute is flagged
            flag_modified(channel, name)


UNREADABLE_CREDENTIALS = ("the robot's stored webhook URL or secret cannot be decrypted (the "
                          "encryption key changed?): enter them again on the robot's page")


def robot_of(channel: GroupChannel) -> webhooks.Robot:
    """The robot to send to. Raises DeliveryError (permanent) when its stored credentials
    cannot be decrypted."""
    if channel.credentials_unreadable:
        raise DeliveryError(UNREADABLE_CREDENTIALS, permanent=True)
    return webhooks.Robot(kind=channel.kind.value, url=channel.webhook_url, secret=channel.secret)


@dataclass
class CredentialsReport:
    channels: int = 0
    plain: int = 0  # had credentials stored in plain text (written before encryption)
    unreadable: list[GroupChannel] = field(default_factory=list)


def encrypt_stored_credentials() -> CredentialsReport:
    """Write every robot's credentials again with the current key (flushes; caller commits).

    Encrypts what older versions stored in plain text and finishes a key rotation.
    Robots whose credentials cannot be decrypted are left as they are and reported."""
    # Locked (PostgreSQL) so an admin's edit made meanwhile is not overwritten.
    channels = db.session.execute(select(GroupChannel).order_by(GroupChannel.id)
                                  .with_for_update()).scalars().all()
    raw = type_coerce(GroupChannel.webhook_url, Text), type_coerce(GroupChannel.secret, Text)
    stored = {row[0]: row[1:] for row in db.session.execute(select(GroupChannel.id, *raw))}
    report = CredentialsReport()
    for channel in channels:
        report.channels += 1
        if channel.credentials_unreadable:
            report.unreadable.append(channel)
            continue
        if any(v is not None and not is_encrypted(v) for v in stored.get(channel.id, ())):
            report.plain += 1
        _write_credentials_again(channel)
    db.session.flush()
    return report


def unreadable_channels() -> list[GroupChannel]:
    """Robots whose credentials the configured keys cannot decrypt (e.g. after a restore)."""
    return [c for c in db.session.execute(select(GroupChannel).order_by(GroupChannel.id))
            .scalars() if c.credentials_unreadable]


def record_channel_result(channel: GroupChannel, error: str | None) -> None:
    if error is None:
        channel.last_ok_at = utcnow()
        channel.last_error = None
    else:
        channel.last_error = error[:500]
        channel.last_error_at = utcnow()


def send_test_message(channel: GroupChannel, actor: User) -> str | None:
    """Send a test message now; record and return the error (None when it went out).

    Audited with the outcome only: the receiver's answer is on the robot's page, and the
    append-only log is no place for text that might quote the robot's address."""
    from tracker.reminders import render

    title, text = render.robot_test(channel, actor)
    error: str | None = None
    try:
        webhooks.send(robot_of(channel), title, text, extra_hosts=extra_webhook_hosts(),
                      timeout=float(current_app.config.get("WEBHOOK_TIMEOUT", 10)))
    except DeliveryError as failure:
        log.warning("test message to robot %s (%s) failed: %s", channel.id, channel.kind.value,
                    failure.message)
        error = failure.message
    record_channel_result(channel, error)
    audit.record(channel.organization_id, actor, "robot.test", _robot_target(channel),
                 kind=channel.kind.value, delivered=error is None)
    db.session.flush()
    return error


# --- planning into the outbox ---------------------------------------------------------

@dataclass
class PlanReport:
    rows: list[dict] = field(default_factory=list)

    def add(self, rows: list[dict]) -> None:
        self.rows.extend(rows)


def _insert_ignoring_duplicates(rows: list[dict]) -> None:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING: a key is written once, ever."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Notification.__table__).on_conflict_do_nothing(
        index_elements=["idempotency_key"])
    for start in range(0, len(rows), KEY_CHUNK):
        db.session.execute(stmt, rows[start:start + KEY_CHUNK])


def _existing_keys(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start:start + KEY_CHUNK]
        found.update(db.session.execute(select(Notification.idempotency_key).where(
            Notification.idempotency_key.in_(chunk))).scalars())
    return found


def _candidate_tasks(org_id: int, upper: date) -> list[TaskInfo]:
    """Open tasks due up to ``upper`` (index ix_tasks_org_status_due)."""
    rows = db.session.execute(
        select(Task.id, Task.title, Task.due_date, Task.lead_user_id, Task.lead_department_id,
               Task.parent_id)
        .where(Task.organization_id == org_id, Task.status.in_(OPEN_STATUSES),
               Task.due_date <= upper)).all()
    return [TaskInfo(id=r.id, title=r.title, due=r.due_date, lead_user_id=r.lead_user_id,
                     lead_department_id=r.lead_department_id, parent_id=r.parent_id)
            for r in rows]


@dataclass
class OrgContext:
    org_id: int
    tz: str
    rules: Rules
    heads: dict[int, int]
    leaders: list[int]
    users: dict[int, User] = field(default_factory=dict)
    prefs: dict[int, NotificationPreference] = field(default_factory=dict)

    def load_people(self, ids: set[int]) -> None:
        """Active users among ``ids`` (plain rows, not ORM objects: sweeps read many)."""
        missing = [i for i in ids if i is not None and i not in self.users]
        for start in range(0, len(missing), KEY_CHUNK):
            chunk = missing[start:start + KEY_CHUNK]
            for row in db.session.execute(select(User.id, User.name, User.email).where(
                    User.id.in_(chunk), User.organization_id == self.org_id,
                    User.active.is_(True))).all():
                self.users[row.id] = row
            for pref in db.session.execute(select(NotificationPreference).where(
                    NotificationPreference.user_id.in_(chunk))).scalars():
                self.prefs[pref.user_id] = pref

    def pref(self, user_id: int) -> NotificationPreference:
        return self.prefs.get(user_id) or preferences_for_default(user_id)

    def directory(self) -> Directory:
        return Directory(
            people={uid: Person(uid, channels_of(self.pref(uid), user))
                    for uid, user in self.users.items()},
            department_heads=self.heads, leaders=tuple(self.leaders))


def preferences_for_default(user_id: int) -> NotificationPreference:
    return NotificationPreference(user_id=user_id, email=True, in_app=True, daily_digest=True,
                                  weekly_digest=True)


@dataclass
class Prefetched:
    """What every organisation's planning needs, read once per sweep for all of them."""
    settings: dict[int, ReminderSettings]
    heads: dict[int, dict[int, int]]
    staff_roles: dict[int, list[tuple[int, Role]]]

    @classmethod
    def load(cls, org_ids: list[int]) -> "Prefetched":
        settings = {r.organization_id: r for r in db.session.execute(
            select(ReminderSettings).where(ReminderSettings.organization_id.in_(org_ids)))
            .scalars()}
        heads: dict[int, dict[int, int]] = defaultdict(dict)
        for org_id, dept_id, head_id in db.session.execute(
                select(Department.organization_id, Department.id, Department.head_id).where(
                    Department.organization_id.in_(org_ids), Department.head_id.is_not(None))):
            heads[org_id][dept_id] = head_id
        roles: dict[int, list[tuple[int, Role]]] = defaultdict(list)
        for org_id, user_id, role in db.session.execute(
                select(User.organization_id, User.id, User.role).where(
                    User.organization_id.in_(org_ids), User.active.is_(True),
                    User.role.in_([Role.leader, Role.admin])).order_by(User.id)):
            roles[org_id].append((user_id, role))
        return cls(settings, heads, roles)


def org_context(org: Organization, pre: Prefetched | None = None) -> OrgContext:
    pre = pre or Prefetched.load([org.id])
    row = pre.settings.get(org.id) or settings_for(org.id)
    staff = pre.staff_roles.get(org.id, [])
    leaders = [uid for uid, role in staff if role == Role.leader] or [uid for uid, _ in staff]
    return OrgContext(org_id=org.id, tz=org.timezone, rules=rules_of(row),
                      heads=dict(pre.heads.get(org.id, {})), leaders=leaders)


def _row(org_id: int, key: str, kind: str, channel: str, local_day: date, payload: dict, *,
         now: datetime, expires_at: datetime | None, user_id: int | None = None,
         task_id: int | None = None, group_channel_id: int | None = None,
         folded: bool = False) -> dict:
    return {
        "organization_id": org_id, "idempotency_key": key, "kind": kind,
        "channel": DeliveryChannel(channel), "recipient_user_id": user_id,
        "group_channel_id": group_channel_id, "task_id": task_id, "local_day": local_day,
        "payload": payload,
        "status": NotificationStatus.folded if folded else NotificationStatus.pending,
        "attempts": 0, "next_attempt_at": now, "expires_at": expires_at,
        "last_error": "over the daily cap: folded into the digest" if folded else None,
        "created_at": utcnow(),
    }


def _task_payload(task: TaskInfo, today: date) -> dict:
    assert task.due is not None
    return {"task_id": task.id, "title": task.title, "due": task.due.isoformat(),
            "days": (task.due - today).days}


def plan_reminders_for(org: Organization, now: datetime, ctx: OrgContext | None = None
                       ) -> list[dict]:
    """Write the reminders due now for one organisation; returns the rows written."""
    ctx = ctx or org_context(org)
    here = planning.local(now, ctx.tz)
    today = here.date()
    _, upper = planning.candidate_due_range(today, ctx.rules)
    tasks = _candidate_tasks(org.id, upper)
    if not tasks:
        return []
    ids = {t.lead_user_id for t in tasks if t.lead_user_id} | set(ctx.heads.values()) \
        | set(ctx.leaders)
    ctx.load_people(ids)
    directory = ctx.directory()
    # Pass 1 finds the keys wanted now; pass 2 plans against what the outbox already has.
    wanted = planning.plan_reminders(tasks, ctx.rules, directory, ctx.tz, now)
    if not wanted:
        return []
    existing = _existing_keys([p.key for p in wanted])
    counts = {(uid, ch.value): n for uid, ch, n in db.session.execute(
        select(Notification.recipient_user_id, Notification.channel, func.count())
        .where(Notification.organization_id == org.id, Notification.local_day == today,
               Notification.kind.in_(planning.REMINDER_KINDS),
               Notification.status != NotificationStatus.folded)
        .group_by(Notification.recipient_user_id, Notification.channel)).all()}
    planned = planning.plan_reminders(tasks, ctx.rules, directory, ctx.tz, now,
                                      existing_keys=existing, sent_today=counts)
    by_id = {t.id: t for t in tasks}
    rows = []
    for p in planned:
        payload = _task_payload(by_id[p.task_id], today) | {"rule": p.rule}
        if p.kind == "escalation":
            owner = directory.owner_of(by_id[p.task_id])
            payload["owner"] = ctx.users[owner].name if owner in ctx.users else ""
            payload["overdue_days"] = (today - p.due).days
        rows.append(_row(org.id, p.key, p.kind, p.channel, p.local_day, payload, now=now,
                         expires_at=p.expires_at, user_id=p.user_id, task_id=p.task_id,
                         folded=p.folded))
    _insert_ignoring_duplicates(rows)
    return rows


def _enabled_group_channels(org_id: int) -> list[GroupChannel]:
    return list(db.session.execute(select(GroupChannel).where(
        GroupChannel.organization_id == org_id, GroupChannel.enabled.is_(True))
        .order_by(GroupChannel.id)).scalars())


def _digest_items(tasks: list[TaskInfo], today: date) -> list[dict]:
    return [_task_payload(t, today) for t in tasks[:DIGEST_MAX_ITEMS]]


def plan_daily_digests_for(org: Organization, now: datetime, ctx: OrgContext | None = None
                           ) -> list[dict]:
    """Each owner's digest of open tasks due soon or overdue, and each robot's."""
    ctx = ctx or org_context(org)
    day = planning.daily_digest_due(now, ctx.rules, ctx.tz)
    if day is None:
        return []
    upper = day + timedelta(days=ctx.rules.digest_days_ahead)
    tasks = planning.due_soon(_candidate_tasks(org.id, upper), day,
                              ctx.rules.digest_days_ahead)
    ctx.load_people({t.lead_user_id for t in tasks if t.lead_user_id} | set(ctx.heads.values()))
    directory = ctx.directory()
    per_owner: dict[int, list[TaskInfo]] = defaultdict(list)
    for task in tasks:
        owner = directory.owner_of(task)
        if owner is not None:
            per_owner[owner].append(task)
    expires = planning.reminder_expiry(day, ctx.rules, ctx.tz)
    rows = []
    for user_id, items in sorted(per_owner.items()):
        if not ctx.pref(user_id).daily_digest:
            continue
        payload = {"items": _digest_items(items, day), "total": len(items),
                   "overdue_count": sum(1 for t in items if t.due and t.due < day)}
        for channel in directory.people[user_id].channels:
            rows.append(_row(org.id, planning.digest_key(user_id, day, channel), "digest",
                             channel, day, payload, now=now, expires_at=expires,
                             user_id=user_id))
    for robot in _enabled_group_channels(org.id):
        items = [t for t in tasks if robot.department_id is None
                 or t.lead_department_id == robot.department_id]
        if robot.department_id is None:  # the whole school: due today and overdue only
            items = [t for t in items if t.due and t.due <= day]
        if not items:
            continue
        payload = {"items": _digest_items(items, day), "total": len(items),
                   "overdue_count": sum(1 for t in items if t.due and t.due < day),
                   "department": robot.department.name if robot.department else ""}
        rows.append(_row(org.id, planning.group_digest_key(robot.id, day), "group_digest",
                         robot.kind.value, day, payload, now=now, expires_at=expires,
                         group_channel_id=robot.id))
    existing = _existing_keys([r["idempotency_key"] for r in rows])
    rows = [r for r in rows if r["idempotency_key"] not in existing]
    _insert_ignoring_duplicates(rows)
    return rows


def weekly_figures(org_id: int, monday: date) -> dict:
    """Completion, overdue and what slipped last week, for the leadership digest."""
    counts = dict(db.session.execute(
        select(Task.status, func.count()).where(Task.organization_id == org_id,
                                                Task.parent_id.is_(None))
        .group_by(Task.status)).all())
    total = sum(n for s, n in counts.items() if s != TaskStatus.cancelled)
    done = counts.get(TaskStatus.done, 0)
    week_start = monday - timedelta(days=7)
    start_utc = datetime.combine(week_start, time(), timezone.utc)
    end_utc = datetime.combine(monday, time(), timezone.utc)
    done_last_week = db.session.execute(select(func.count()).where(
        Task.organization_id == org_id, Task.completed_at >= start_utc,
        Task.completed_at < end_utc)).scalar_one()
    open_ = (Task.organization_id == org_id, Task.status.in_(OPEN_STATUSES))
    overdue_count = db.session.execute(select(func.count()).where(
        *open_, Task.due_date < monday)).scalar_one()
    slipped = db.session.execute(select(Task.id, Task.title, Task.due_date).where(
        *open_, Task.due_date >= week_start, Task.due_date < monday)
        .order_by(Task.due_date, Task.id).limit(WEEKLY_MAX_ITEMS)).all()
    overdue = db.session.execute(select(Task.id, Task.title, Task.due_date).where(
        *open_, Task.due_date < week_start)
        .order_by(Task.due_date, Task.id).limit(WEEKLY_MAX_ITEMS)).all()

    def items(rows):
        return [{"task_id": r.id, "title": r.title, "due": r.due_date.isoformat(),
                 "days": (r.due_date - monday).days} for r in rows]

    return {"total": total, "done": done,
            "rate": round(100 * done / total) if total else 0,
            "done_last_week": done_last_week, "overdue_count": overdue_count,
            "slipped": items(slipped), "overdue": items(overdue), "week": monday.isoformat()}


def plan_weekly_digests_for(org: Organization, now: datetime, ctx: OrgContext | None = None
                            ) -> list[dict]:
    ctx = ctx or org_context(org)
    monday = planning.weekly_digest_due(now, ctx.rules, ctx.tz)
    if monday is None:
        return []
    ctx.load_people(set(ctx.leaders))
    directory = ctx.directory()
    keys = [planning.weekly_key(uid, monday, ch) for uid in ctx.leaders if uid in ctx.users
            for ch in directory.people[uid].channels]
    robots = [r for r in _enabled_group_channels(org.id) if r.department_id is None]
    keys += [planning.group_weekly_key(r.id, monday) for r in robots]
    existing = _existing_keys(keys)
    if not set(keys) - existing:
        return []
    payload = weekly_figures(org.id, monday)
    expires = planning.at_local(monday + timedelta(days=7), ctx.rules.weekly_time, ctx.tz)
    rows = []
    for uid in ctx.leaders:
        if uid not in ctx.users or not ctx.pref(uid).weekly_digest:
            continue
        for channel in directory.people[uid].channels:
            key = planning.weekly_key(uid, monday, channel)
            if key not in existing:
                rows.append(_row(org.id, key, "weekly", channel, monday, payload, now=now,
                                 expires_at=expires, user_id=uid))
    for robot in robots:
        key = planning.group_weekly_key(robot.id, monday)
        if key not in existing:
            rows.append(_row(org.id, key, "group_weekly", robot.kind.value, monday, payload,
                             now=now, expires_at=expires, group_channel_id=robot.id))
    _insert_ignoring_duplicates(rows)
    return rows


PLANNERS = {
    "reminders": plan_reminders_for,
    "daily": plan_daily_digests_for,
    "weekly": plan_weekly_digests_for,
}


def plan_all(now: datetime, kinds: tuple[str, ...] = ("reminders", "daily", "weekly"),
             org_ids: list[int] | None = None) -> list[dict]:
    """Plan everything due at ``now`` across organisations (flushes; caller commits).

    One organisation's bad data never stops the others: errors are logged and the
    organisation is skipped inside a savepoint."""
    stmt = select(Organization).order_by(Organization.id)
    if org_ids:
        stmt = stmt.where(Organization.id.in_(org_ids))
    rows: list[dict] = []
    orgs = db.session.execute(stmt).scalars().all()
    pre = Prefetched.load([o.id for o in orgs])
    for org in orgs:
        try:
            with db.session.begin_nested():
                ctx = org_context(org, pre)
                for kind in kinds:
                    rows.extend(PLANNERS[kind](org, now, ctx))
        except Exception:  # noqa: BLE001 — one organisation must not stop the sweep
            log.exception("planning reminders for organisation %s failed", org.id)
    return rows


# --- inbox ----------------------------------------------------------------------------

def inbox(user: User) -> Select:
    return (select(Notification).where(
        Notification.recipient_user_id == user.id,
        Notification.channel == DeliveryChannel.in_app,
        Notification.status == NotificationStatus.sent)
        .order_by(Notification.sent_at.desc(), Notification.id.desc()))


# Built once: every page shows the bell, and building the statement cost five times
# running it.
_UNREAD_COUNT = select(func.count()).select_from(Notification).where(
    Notification.recipient_user_id == bindparam("user_id"),
    Notification.channel == DeliveryChannel.in_app,
    Notification.read_at.is_(None),
    Notification.status == NotificationStatus.sent)


def unread_count(user: User) -> int:
    """One indexed count query (ix_notifications_inbox)."""
    return db.session.connection().execute(_UNREAD_COUNT, {"user_id": user.id}).scalar_one()


def mark_read(user: User, notification_ids: list[int] | None = None) -> int:
    """Mark one, some or (None) all of the user's in-app notifications read."""
    stmt = update(Notification).where(
        Notification.recipient_user_id == user.id,
        Notification.channel == DeliveryChannel.in_app,
        Notification.read_at.is_(None)).values(read_at=utcnow())
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(notification_ids))
    return db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount


# --- the admin's outbox ---------------------------------------------------------------

def retry(notification: Notification, now: datetime | None = None) -> None:
    """Send a failed (or folded/cancelled) notification again at the next sweep."""
    if notification.status not in (NotificationStatus.failed, NotificationStatus.folded,
                                   NotificationStatus.cancelled):
        raise ServiceError(_("Only failed, folded or cancelled notifications can be retried."))
    notification.status = NotificationStatus.pending
    notification.attempts = 0
    notification.next_attempt_at = now or utcnow()
    notification.expires_at = None  # the admin asked for it: do not fold it again
    notification.claimed_by = None
    notification.claimed_until = None
    db.session.flush()


def retry_all_failed(org_id: int) -> int:
    return db.session.execute(update(Notification).where(
        Notification.organization_id == org_id,
        Notification.status == NotificationStatus.failed).values(
        status=NotificationStatus.pending, attempts=0, next_attempt_at=utcnow(),
        expires_at=None, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)).rowcount


def outbox_counts(org_id: int) -> dict[str, int]:
    return {status.value: n for status, n in db.session.execute(
        select(Notification.status, func.count()).where(Notification.organization_id == org_id)
        .group_by(Notification.status)).all()}
