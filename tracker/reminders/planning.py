"""Reminder planning: which notifications are due now. Pure logic, no Flask, no database.

Input: tasks (``TaskInfo``), the organisation's ``Rules``, who is who (``Directory``),
its time zone, "now", what the outbox already holds (keys, and today's count per
person and channel). Output: ``Planned`` notifications, each with an idempotency key
built from task (or occurrence), rule, due date, stage day, recipient and channel.

Stages. A task with a due date passes through stages: N days before (one per entry
of ``days_before``), on the due date, overdue (the day after the due date and then
every ``overdue_every_days``). Only the *current* stage — the latest one whose day
has come — is planned. When the scheduler was down, the stage that is current on
restart goes out once; earlier stages it missed are superseded by it (the newer
reminder says more). Escalation to the lead department's head and the leaders is
its own track: once, ``escalate_after_days`` after the due date.

Quiet hours: nothing is planned while the organisation's clock is inside them; the
first sweep after they end plans the day's reminders. The sender separately refuses
to send inside quiet hours (``defer_out_of_quiet``), so a retry never lands at night.

Daily cap: per person and channel, at most ``daily_cap`` reminders a local day
(most urgent first: earliest due date); the rest are written as ``folded`` — the
person's daily digest lists every open task due soon or overdue, so nothing is lost.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

REMINDER_KINDS = ("before_due", "on_due", "overdue", "escalation")
PERSONAL_CHANNELS = ("in_app", "email")
MAX_ATTEMPTS = 5
BACKOFF_MINUTES = (1, 5, 15, 60)  # after attempt 1, 2, 3, 4


@dataclass(frozen=True)
class Rules:
    days_before: tuple[int, ...] = (7, 1)
    on_due: bool = True
    overdue_every_days: int = 3      # 0: no overdue reminders
    escalate_after_days: int = 7     # 0: no escalation
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    daily_cap: int = 5
    digest_time: time = time(7, 30)
    weekly_time: time = time(8, 0)   # Mondays
    digest_days_ahead: int = 7

    @property
    def horizon_days(self) -> int:
        """How far ahead a due date can make a task a candidate."""
        return max((d for d in self.days_before), default=0)


@dataclass(frozen=True)
class TaskInfo:
    id: int
    title: str
    due: date | None
    lead_user_id: int | None = None
    lead_department_id: int | None = None
    parent_id: int | None = None  # set for an occurrence of a recurring measure
    open: bool = True


@dataclass(frozen=True)
class Person:
    id: int
    channels: tuple[str, ...] = PERSONAL_CHANNELS  # in the order they are planned


@dataclass(frozen=True)
class Directory:
    people: Mapping[int, Person]                  # active users only
    department_heads: Mapping[int, int] = field(default_factory=dict)  # dept id → user id
    leaders: tuple[int, ...] = ()

    def owner_of(self, task: TaskInfo) -> int | None:
        if task.lead_user_id is not None and task.lead_user_id in self.people:
            return task.lead_user_id
        if task.lead_department_id is not None:
            head = self.department_heads.get(task.lead_department_id)
            if head in self.people:
                return head
        return None

    def escalation_recipients(self, task: TaskInfo) -> list[int]:
        owner = self.owner_of(task)
        result: list[int] = []
        head = self.department_heads.get(task.lead_department_id) \
            if task.lead_department_id is not None else None
        for user_id in ([head] if head is not None else []) + list(self.leaders):
            if user_id in self.people and user_id != owner and user_id not in result:
                result.append(user_id)
        return result


@dataclass(frozen=True)
class Stage:
    rule: str        # "before7", "due", "overdue", "escalate"
    kind: str        # one of REMINDER_KINDS
    day: date        # the day the stage began


@dataclass(frozen=True)
class Planned:
    key: str
    kind: str
    rule: str
    task_id: int
    user_id: int
    channel: str
    due: date
    local_day: date
    send_at: datetime     # aware UTC
    expires_at: datetime  # aware UTC: after this it is folded into the digest
    folded: bool = False
    days: int = 0         # days left (positive) or overdue (negative) on local_day


# --- clocks -------------------------------------------------------------------------

def local(now: datetime, tz: str) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(ZoneInfo(tz))


def in_quiet_hours(clock: time, rules: Rules) -> bool:
    start, end = rules.quiet_start, rules.quiet_end
    if start == end:
        return False
    if start < end:  # e.g. 12:00–14:00
        return start <= clock < end
    return clock >= start or clock < end  # across midnight, e.g. 22:00–07:00


def defer_out_of_quiet(when: datetime, rules: Rules, tz: str) -> datetime:
    """``when`` if it is outside quiet hours, else the end of those quiet hours (UTC)."""
    here = local(when, tz)
    clock = here.time().replace(tzinfo=None)
    if not in_quiet_hours(clock, rules):
        return when
    end_day = here.date()
    if rules.quiet_start > rules.quiet_end and clock >= rules.quiet_start:
        end_day += timedelta(days=1)
    end = datetime.combine(end_day, rules.quiet_end, ZoneInfo(tz))
    return end.astimezone(timezone.utc)


def at_local(day: date, clock: time, tz: str) -> datetime:
    return datetime.combine(day, clock, ZoneInfo(tz)).astimezone(timezone.utc)


def reminder_expiry(local_day: date, rules: Rules, tz: str) -> datetime:
    """A reminder not delivered by the next morning's digest is folded into that digest."""
    return at_local(local_day + timedelta(days=1), rules.digest_time, tz)


def backoff(attempts: int) -> timedelta | None:
    """Delay before the next try after ``attempts`` failed ones; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


# --- stages -------------------------------------------------------------------------

def owner_stages(due: date, rules: Rules) -> list[Stage]:
    """Every stage before and on the due date (the overdue ones are computed on demand)."""
    stages = [Stage(f"before{d}", "before_due", due - timedelta(days=d))
              for d in sorted(set(rules.days_before), reverse=True) if d > 0]
    if rules.on_due:
        stages.append(Stage("due", "on_due", due))
    return stages


def current_stage(due: date, today: date, rules: Rules) -> Stage | None:
    if today > due:
        if rules.overdue_every_days <= 0:
            return None
        k = (today - due - timedelta(days=1)).days // rules.overdue_every_days
        return Stage("overdue", "overdue",
                     due + timedelta(days=1 + k * rules.overdue_every_days))
    current = None
    for stage in owner_stages(due, rules):
        if stage.day <= today:
            current = stage
    return current


def escalation_stage(due: date, today: date, rules: Rules) -> Stage | None:
    if rules.escalate_after_days <= 0:
        return None
    day = due + timedelta(days=rules.escalate_after_days)
    return Stage("escalate", "escalation", day) if today >= day else None


def reminder_key(task: TaskInfo, stage: Stage, user_id: int, channel: str) -> str:
    assert task.due is not None
    return (f"rem:{task.id}:{stage.rule}:{task.due.isoformat()}:{stage.day.isoformat()}"
            f":{user_id}:{channel}")


def candidate_due_range(today: date, rules: Rules) -> tuple[date | None, date]:
    """Due dates that can have a current stage today: everything up to the horizon.

    Overdue tasks stay candidates while open (the lower bound is open); the query
    therefore reads only open tasks due up to ``today + horizon``."""
    return None, today + timedelta(days=rules.horizon_days)


# --- planning -----------------------------------------------------------------------

def plan_reminders(tasks: Iterable[TaskInfo], rules: Rules, directory: Directory, tz: str,
                   now: datetime, *, existing_keys: set[str] | frozenset[str] = frozenset(),
                   sent_today: Mapping[tuple[int, str], int] | None = None) -> list[Planned]:
    """The reminders to write now, most urgent first, folded beyond the daily cap."""
    here = local(now, tz)
    if in_quiet_hours(here.time().replace(tzinfo=None), rules):
        return []
    today = here.date()
    expires = reminder_expiry(today, rules, tz)
    counts: dict[tuple[int, str], int] = dict(sent_today or {})
    planned: list[Planned] = []
    ordered = sorted((t for t in tasks if t.open and t.due is not None),
                     key=lambda t: (t.due, t.id))
    for task in ordered:
        assert task.due is not None
        wanted: list[tuple[Stage, int]] = []
        stage = current_stage(task.due, today, rules)
        owner = directory.owner_of(task)
        if stage is not None and owner is not None:
            wanted.append((stage, owner))
        escalation = escalation_stage(task.due, today, rules)
        if escalation is not None:
            wanted.extend((escalation, user_id)
                          for user_id in directory.escalation_recipients(task))
        for stage, user_id in wanted:
            for channel in directory.people[user_id].channels:
                key = reminder_key(task, stage, user_id, channel)
                if key in existing_keys:
                    continue
                used = counts.get((user_id, channel), 0)
                folded = used >= rules.daily_cap
                if not folded:
                    counts[(user_id, channel)] = used + 1
                planned.append(Planned(
                    key=key, kind=stage.kind, rule=stage.rule, task_id=task.id,
                    user_id=user_id, channel=channel, due=task.due, local_day=today,
                    send_at=now.astimezone(timezone.utc), expires_at=expires, folded=folded,
                    days=(task.due - today).days))
    return planned


# --- digests ------------------------------------------------------------------------

def daily_digest_due(now: datetime, rules: Rules, tz: str) -> date | None:
    """The local day whose digest may go out now, or None (before its time or at night)."""
    here = local(now, tz)
    clock = here.time().replace(tzinfo=None)
    if in_quiet_hours(clock, rules) or clock < rules.digest_time:
        return None
    return here.date()


def weekly_digest_due(now: datetime, rules: Rules, tz: str) -> date | None:
    """The Monday of the week whose leadership digest may go out now, or None.

    Due from Monday's ``weekly_time``; if the scheduler was down then, it goes out
    once later the same week (outside quiet hours), never for a past week."""
    here = local(now, tz)
    clock = here.time().replace(tzinfo=None)
    if in_quiet_hours(clock, rules):
        return None
    monday = here.date() - timedelta(days=here.weekday())
    if here.weekday() == 0 and clock < rules.weekly_time:
        return None
    return monday


def digest_key(user_id: int, day: date, channel: str) -> str:
    return f"digest:{user_id}:{day.isoformat()}:{channel}"


def weekly_key(user_id: int, monday: date, channel: str) -> str:
    return f"weekly:{user_id}:{monday.isoformat()}:{channel}"


def group_digest_key(channel_id: int, day: date) -> str:
    return f"group:{channel_id}:{day.isoformat()}"


def group_weekly_key(channel_id: int, monday: date) -> str:
    return f"groupweekly:{channel_id}:{monday.isoformat()}"


def due_soon(tasks: Iterable[TaskInfo], today: date, days_ahead: int) -> list[TaskInfo]:
    """Open tasks overdue or due within ``days_ahead`` days, earliest first (digest body)."""
    limit = today + timedelta(days=days_ahead)
    return sorted((t for t in tasks if t.open and t.due is not None and t.due <= limit),
                  key=lambda t: (t.due, t.id))
