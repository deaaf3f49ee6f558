"""Constructed data for the reminder tests, built in its own app context; ids returned."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from tracker.extensions import db
from tracker.models import (
    ChannelKind,
    DeliveryChannel,
    Department,
    GroupChannel,
    Notification,
    Organization,
    ReminderSettings,
    Role,
    Task,
    TaskStatus,
    User,
)

TZ = "Asia/Shanghai"
MONDAY = date(2024, 10, 14)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(TZ)).astimezone(timezone.utc)


def school(app, tasks: list[tuple[str, str, date]] | None = None) -> dict:
    """A school: 教务处 (head 李主任), a Chinese-speaking and an English-speaking owner,
    a leader. ``tasks``: (title, owner role, due)."""
    with app.app_context():
        org = Organization(name="实验小学", timezone=TZ)
        db.session.add(org)
        db.session.flush()
        users = {
            "zh": User(organization_id=org.id, name="张伟", email="zhang@school.test",
                       role=Role.staff),
            "en": User(organization_id=org.id, name="Emma", email="emma@school.test",
                       role=Role.staff, locale="en"),
            "head": User(organization_id=org.id, name="李主任", email="li@school.test",
                         role=Role.staff),
            "leader": User(organization_id=org.id, name="王校长", email="wang@school.test",
                           role=Role.leader),
        }
        db.session.add_all(users.values())
        db.session.flush()
        dept = Department(organization_id=org.id, name="教务处", head_id=users["head"].id)
        db.session.add(dept)
        db.session.flush()
        ids = {}
        for title, owner, due in tasks or []:
            task = Task(organization_id=org.id, title=title, lead_user_id=users[owner].id,
                        lead_department_id=dept.id, due_date=due)
            db.session.add(task)
            db.session.flush()
            ids[title] = task.id
        db.session.commit()
        result = {"org": org.id, "dept": dept.id, "tasks": ids,
                  **{f"user_{k}": u.id for k, u in users.items()}}
        db.session.remove()
        return result


def outbox(app, **filters) -> list[dict]:
    with app.app_context():
        stmt = db.select(Notification).order_by(Notification.id)
        for key, value in filters.items():
            stmt = stmt.where(getattr(Notification, key) == value)
        rows = [{"key": n.idempotency_key, "status": n.status.value, "channel": n.channel.value,
                 "kind": n.kind, "attempts": n.attempts, "error": n.last_error,
                 "user": n.recipient_user_id, "next": n.next_attempt_at, "sent_at": n.sent_at}
                for n in db.session.execute(stmt).scalars()]
        db.session.remove()
        return rows


def close_task(app, task_id: int) -> None:
    with app.app_context():
        task = db.session.get(Task, task_id)
        task.status = TaskStatus.done
        db.session.commit()
        db.session.remove()


def robot_notes(app, data: dict, url: str, n: int, *, due: datetime,
                kind: ChannelKind = ChannelKind.wecom, secret: str | None = None,
                quiet_hours: bool = True) -> list[int]:
    """A robot of the school's department and ``n`` notifications to it, pending since
    ``due``; their ids. ``quiet_hours=False``: none (for a sender using the real clock)."""
    with app.app_context():
        if not quiet_hours:
            db.session.add(ReminderSettings(organization_id=data["org"], quiet_start=time(0),
                                            quiet_end=time(0)))
        channel = GroupChannel(organization_id=data["org"], kind=kind, name="教务群",
                               department_id=data["dept"], webhook_url=url, secret=secret)
        db.session.add(channel)
        db.session.flush()
        rows = [Notification(organization_id=data["org"], idempotency_key=f"note:{i}",
                             kind="note", channel=DeliveryChannel(kind.value),
                             group_channel_id=channel.id, local_day=due.date(), payload={},
                             next_attempt_at=due) for i in range(n)]
        db.session.add_all(rows)
        db.session.commit()
        ids = [row.id for row in rows]
        db.session.remove()
        return ids
