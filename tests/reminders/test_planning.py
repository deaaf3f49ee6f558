"""Reminder planning as pure logic: no app, no database."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tracker.reminders import planning
from tracker.reminders.planning import Directory, Person, Rules, TaskInfo

TZ = "Asia/Shanghai"
RULES = Rules()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(TZ)).astimezone(timezone.utc)


def people(*ids, channels=("in_app", "email")):
    return {i: Person(i, channels) for i in ids}


DIRECTORY = Directory(people=people(1, 2, 3, 9), department_heads={10: 2}, leaders=(9,))


def test_stages_before_on_and_after_the_due_date():
    due = date(2024, 10, 20)
    expect = {
        date(2024, 10, 12): None,
        date(2024, 10, 13): ("before7", date(2024, 10, 13)),
        date(2024, 10, 18): ("before7", date(2024, 10, 13)),
        date(2024, 10, 19): ("before1", date(2024, 10, 19)),
        date(2024, 10, 20): ("due", date(2024, 10, 20)),
        date(2024, 10, 21): ("overdue", date(2024, 10, 21)),
        date(2024, 10, 23): ("overdue", date(2024, 10, 21)),
        date(2024, 10, 24): ("overdue", date(2024, 10, 24)),
        date(2024, 10, 27): ("overdue", date(2024, 10, 27)),
    }
    for today, wanted in expect.items():
        stage = planning.current_stage(due, today, RULES)
        assert (None if stage is None else (stage.rule, stage.day)) == wanted, today


def test_rules_switched_off():
    rules = Rules(days_before=(), on_due=False, overdue_every_days=0, escalate_after_days=0)
    due = date(2024, 10, 20)
    for offset in range(-10, 30):
        today = due + timedelta(days=offset)
        assert planning.current_stage(due, today, rules) is None
        assert planning.escalation_stage(due, today, rules) is None


def test_escalation_once_after_n_days_to_head_and_leaders_not_the_owner():
    task = TaskInfo(1, "t", date(2024, 10, 1), lead_user_id=1, lead_department_id=10)
    now = at(date(2024, 10, 8), 9)
    planned = planning.plan_reminders([task], RULES, DIRECTORY, TZ, now)
    escalations = [(p.user_id, p.channel) for p in planned if p.kind == "escalation"]
    assert escalations == [(2, "in_app"), (2, "email"), (9, "in_app"), (9, "email")]
    # The day after, the same escalation keys: nothing new once they are in the outbox.
    later = planning.plan_reminders([task], RULES, DIRECTORY, TZ, at(date(2024, 10, 9), 9),
                                    existing_keys={p.key for p in planned})
    assert [p for p in later if p.kind == "escalation"] == []


def test_owner_falls_back_to_department_head_and_head_is_not_escalated_to_themself():
    task = TaskInfo(1, "t", date(2024, 10, 1), lead_user_id=None, lead_department_id=10)
    assert DIRECTORY.owner_of(task) == 2
    assert DIRECTORY.escalation_recipients(task) == [9]
    inactive = TaskInfo(2, "t", date(2024, 10, 1), lead_user_id=77)  # not in people: inactive
    assert DIRECTORY.owner_of(inactive) is None


def test_keys_name_task_rule_due_date_stage_recipient_and_channel():
    task = TaskInfo(5, "t", date(2024, 10, 20), lead_user_id=1)
    [first, second] = planning.plan_reminders([task], RULES, DIRECTORY, TZ,
                                              at(date(2024, 10, 19), 8))
    assert first.key == "rem:5:before1:2024-10-20:2024-10-19:1:in_app"
    assert second.key == "rem:5:before1:2024-10-20:2024-10-19:1:email"
    # A moved deadline is a new reminder.
    moved = TaskInfo(5, "t", date(2024, 10, 27), lead_user_id=1)
    [again, _] = planning.plan_reminders([moved], RULES, DIRECTORY, TZ,
                                         at(date(2024, 10, 20), 8))
    assert again.key == "rem:5:before7:2024-10-27:2024-10-20:1:in_app"


def test_quiet_hours_plan_nothing_and_wrap_midnight():
    task = TaskInfo(1, "t", date(2024, 10, 20), lead_user_id=1)
    for hour, minute in [(22, 0), (23, 59), (0, 0), (3, 0), (6, 59)]:
        assert planning.plan_reminders([task], RULES, DIRECTORY, TZ,
                                       at(date(2024, 10, 19), hour, minute)) == []
    assert planning.plan_reminders([task], RULES, DIRECTORY, TZ, at(date(2024, 10, 19), 7))
    assert planning.in_quiet_hours(time(12, 30), Rules(quiet_start=time(12), quiet_end=time(14)))
    assert not planning.in_quiet_hours(time(14), Rules(quiet_start=time(12), quiet_end=time(14)))
    assert not planning.in_quiet_hours(time(3), Rules(quiet_start=time(0), quiet_end=time(0)))


def test_defer_out_of_quiet_moves_to_the_morning_in_the_org_zone():
    late = at(date(2024, 10, 19), 23, 10)
    assert planning.defer_out_of_quiet(late, RULES, TZ) == at(date(2024, 10, 20), 7)
    early = at(date(2024, 10, 20), 5)
    assert planning.defer_out_of_quiet(early, RULES, TZ) == at(date(2024, 10, 20), 7)
    day = at(date(2024, 10, 20), 12)
    assert planning.defer_out_of_quiet(day, RULES, TZ) == day


def test_daily_cap_folds_the_least_urgent_and_counts_what_was_already_sent():
    rules = Rules(daily_cap=2)
    d = Directory(people=people(1, channels=("email",)))
    today = date(2024, 10, 20)
    tasks = [TaskInfo(i, f"t{i}", today + timedelta(days=delta), lead_user_id=1)
             for i, delta in [(1, 1), (2, -1), (3, 0), (4, 7)]]
    planned = planning.plan_reminders(tasks, rules, d, TZ, at(today, 9))
    assert [(p.task_id, p.folded) for p in planned] == [(2, False), (3, False), (1, True),
                                                        (4, True)]
    again = planning.plan_reminders(tasks[:1], rules, d, TZ, at(today, 9),
                                    sent_today={(1, "email"): 2})
    assert [p.folded for p in again] == [True]


def test_catch_up_after_downtime_sends_only_the_current_stage():
    task = TaskInfo(1, "t", date(2024, 10, 20), lead_user_id=1)
    d = Directory(people=people(1, channels=("email",)))
    # Down from the 12th to the 20th: on restart, the "due today" reminder only.
    planned = planning.plan_reminders([task], RULES, d, TZ, at(date(2024, 10, 20), 10))
    assert [p.rule for p in planned] == ["due"]


def test_closed_or_undated_tasks_are_never_planned():
    tasks = [TaskInfo(1, "t", date(2024, 10, 20), lead_user_id=1, open=False),
             TaskInfo(2, "t", None, lead_user_id=1)]
    assert planning.plan_reminders(tasks, RULES, DIRECTORY, TZ, at(date(2024, 10, 20), 9)) == []


def test_expiry_is_the_next_morning_digest():
    assert planning.reminder_expiry(date(2024, 10, 20), RULES, TZ) == at(date(2024, 10, 21), 7, 30)


def test_backoff_then_give_up():
    assert [planning.backoff(n) for n in range(1, 6)] == [
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
        timedelta(minutes=60), None]


def test_digest_times():
    monday = date(2024, 10, 21)
    assert planning.daily_digest_due(at(monday, 7, 29), RULES, TZ) is None
    assert planning.daily_digest_due(at(monday, 7, 30), RULES, TZ) == monday
    assert planning.daily_digest_due(at(monday, 22, 30), RULES, TZ) is None
    assert planning.weekly_digest_due(at(monday, 7, 59), RULES, TZ) is None
    assert planning.weekly_digest_due(at(monday, 8, 0), RULES, TZ) == monday
    assert planning.weekly_digest_due(at(monday + timedelta(days=2), 9), RULES, TZ) == monday
    assert planning.weekly_digest_due(at(monday + timedelta(days=2), 23), RULES, TZ) is None


def test_candidate_range_reads_only_up_to_the_horizon():
    assert planning.candidate_due_range(date(2024, 10, 20), Rules(days_before=(14, 3))) == \
        (None, date(2024, 11, 3))


def test_naive_now_is_refused():
    try:
        planning.plan_reminders([], RULES, DIRECTORY, TZ, datetime(2024, 10, 20, 9))
    except ValueError:
        return
    raise AssertionError("naive datetime accepted")
