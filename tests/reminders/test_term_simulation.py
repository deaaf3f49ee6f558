"""A simulated stretch of term with a frozen clock advanced hour by hour.

Constructed data (see the docstring of each expectation): exactly the expected
notifications, in order; none in quiet hours; none beyond the daily cap; the demo
school over two weeks keeps the same invariants.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.reminders.helpers import TZ, at, close_task, school
from tracker.extensions import db
from tracker.models import Notification, NotificationPreference, ReminderSettings, User
from tracker.reminders.jobs import sweep

START = date(2024, 10, 14)  # a Monday
END = date(2024, 11, 3)


def _local(dt: datetime) -> datetime:
    return dt.astimezone(ZoneInfo(TZ))


def _in_app_only(app, org_id: int, cap: int) -> None:
    with app.app_context():
        db.session.add(ReminderSettings(organization_id=org_id, daily_cap=cap))
        for user in db.session.execute(db.select(User)).scalars():
            db.session.add(NotificationPreference(user_id=user.id, email=False, in_app=True,
                                                  daily_digest=False, weekly_digest=False))
        db.session.commit()
        db.session.remove()


def test_three_weeks_of_term_exactly(app):
    data = school(app, [
        ("A", "zh", date(2024, 10, 17)),
        ("C1", "zh", date(2024, 10, 19)),
        ("C2", "zh", date(2024, 10, 19)),
        ("C3", "zh", date(2024, 10, 19)),
        ("B", "en", date(2024, 10, 24)),
    ])
    _in_app_only(app, data["org"], cap=2)
    t = data["tasks"]
    closings = {at(date(2024, 10, 20), 6): ["C1", "C2", "C3"], at(date(2024, 10, 26), 12): ["A"]}

    now = datetime.combine(START, time(0, 5), ZoneInfo(TZ)).astimezone(timezone.utc)
    end = datetime.combine(END + timedelta(days=1), time(0), ZoneInfo(TZ)).astimezone(timezone.utc)
    while now < end:
        for when, titles in list(closings.items()):
            if when <= now:
                for title in titles:
                    close_task(app, t[title])
                del closings[when]
        with app.app_context():
            sweep(now, kinds=("reminders",))
        now += timedelta(hours=1)

    with app.app_context():
        rows = db.session.execute(db.select(Notification).order_by(Notification.id)).scalars().all()
        names = {v: k for k, v in t.items()}
        users = {data["user_zh"]: "zh", data["user_en"]: "en", data["user_head"]: "head",
                 data["user_leader"]: "leader"}
        got = [(n.local_day.isoformat(), users[n.recipient_user_id], names[n.task_id],
                n.idempotency_key.split(":")[2], n.status.value) for n in rows]
        sent_times = [_local(n.sent_at) for n in rows if n.sent_at]
        folded = [n for n in rows if n.status.value == "folded"]
        db.session.remove()

    S, F = "sent", "folded"
    assert got == [
        # Monday: A's and the Cs' "7 days before" came while nobody swept: caught up once;
        # the cap (2) folds the least urgent two.
        ("2024-10-14", "zh", "A", "before7", S), ("2024-10-14", "zh", "C1", "before7", S),
        ("2024-10-14", "zh", "C2", "before7", F), ("2024-10-14", "zh", "C3", "before7", F),
        ("2024-10-16", "zh", "A", "before1", S),
        ("2024-10-17", "zh", "A", "due", S),
        ("2024-10-17", "en", "B", "before7", S),
        ("2024-10-18", "zh", "A", "overdue", S), ("2024-10-18", "zh", "C1", "before1", S),
        ("2024-10-18", "zh", "C2", "before1", F), ("2024-10-18", "zh", "C3", "before1", F),
        ("2024-10-19", "zh", "C1", "due", S), ("2024-10-19", "zh", "C2", "due", S),
        ("2024-10-19", "zh", "C3", "due", F),
        # The Cs closed on the 20th before anyone was reminded that they were overdue.
        ("2024-10-21", "zh", "A", "overdue", S),
        ("2024-10-23", "en", "B", "before1", S),
        ("2024-10-24", "zh", "A", "overdue", S),
        ("2024-10-24", "head", "A", "escalate", S), ("2024-10-24", "leader", "A", "escalate", S),
        ("2024-10-24", "en", "B", "due", S),
        ("2024-10-25", "en", "B", "overdue", S),
        # A closed on the 26th: no more reminders about it.
        ("2024-10-28", "en", "B", "overdue", S),
        ("2024-10-31", "en", "B", "overdue", S),
        ("2024-10-31", "head", "B", "escalate", S), ("2024-10-31", "leader", "B", "escalate", S),
        ("2024-11-03", "en", "B", "overdue", S),
    ]
    # Never during quiet hours (22:00–07:00): the first sweep after 07:00 sends the day's.
    assert sent_times and all(time(7) <= s.time() < time(22) for s in sent_times)
    assert {s.strftime("%H:%M") for s in sent_times} == {"07:05"}
    assert all(n.sent_at is None for n in folded)
    # Never beyond the cap: at most 2 sent per person and day.
    per_day = Counter((g[0], g[1]) for g in got if g[4] == S)
    assert max(per_day.values()) == 2


def test_demo_school_two_weeks_invariants(app):
    from tracker.demo import create_demo

    today = date(2024, 10, 14)
    with app.app_context():
        org = create_demo(today)
        org_id = org.id
        db.session.add(ReminderSettings(organization_id=org_id, daily_cap=3))
        db.session.commit()
        db.session.remove()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT=1)  # SMTP down
    now = at(today, 0, 5)
    end = at(today + timedelta(days=14), 0, 5)
    while now < end:
        with app.app_context():
            sweep(now)
        now += timedelta(hours=2)
    with app.app_context():
        rows = db.session.execute(db.select(Notification)).scalars().all()
        keys = [n.idempotency_key for n in rows]
        assert len(keys) == len(set(keys))
        in_app = [n for n in rows if n.channel.value == "in_app"]
        assert in_app and all(n.status.value in ("sent", "folded", "cancelled") for n in in_app)
        # In-app sent times are the simulated clock: never at night.
        assert all(time(7) <= _local(n.sent_at).time() < time(22)
                   for n in in_app if n.sent_at)
        reminders = Counter((n.local_day, n.recipient_user_id) for n in in_app
                            if n.kind in ("before_due", "on_due", "overdue", "escalation")
                            and n.status.value == "sent")
        assert reminders and max(reminders.values()) <= 3
        # E-mail could not be delivered: retried, then a visible failure, none lost silently.
        emails = [n for n in rows if n.channel.value == "email"]
        assert emails and all(n.status.value in ("failed", "pending", "folded", "cancelled")
                              for n in emails)
        assert any(n.status.value == "failed" and n.attempts == 5 for n in emails)
        db.session.remove()
