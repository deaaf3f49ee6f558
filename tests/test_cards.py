"""The card presenter (tracker.tasks.cards): pure, tested without Flask."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from tracker.models import Acceptance, Recurrence, TaskStatus
from tracker.tasks.cards import Labels, present
from tracker.tasks.queries import TaskCard

NOW = datetime(2024, 10, 8, 9, 0, tzinfo=timezone.utc)
TODAY = NOW.date()
TABLES = {
    "status": {"not_started": "未开始", "in_progress": "进行中", "done": "已完成",
               "blocked": "受阻", "cancelled": "已取消"},
    "acceptance": {"pending": "待验收", "accepted": "已验收", "rejected": "已退回",
                   "not_required": ""},
    "recurrence": {"daily": "每天", "weekly": "每周", "monthly": "每月", "termly": "每学期",
                   "yearly": "每年"},
    "ui": {"stale": "久未更新", "unassigned": "未分配", "due": "截止", "update": "更新"},
}
LABELS = Labels.build(TABLES)


def card(id_, title="开展读书节", *, status=TaskStatus.in_progress, due=date(2024, 10, 20),
         parent_id=None, recurrence=None, acceptance=Acceptance.not_required,
         last_activity=NOW, user=None, department=None, lead_user_id=7):
    return TaskCard(id=id_, organization_id=1, parent_id=parent_id, plan_id=1, plan_node_id=id_,
                    title=title, status=status, acceptance=acceptance, progress=40,
                    due_date=due, recurrence=recurrence, last_activity_at=last_activity,
                    version=3, lead_user_id=lead_user_id, lead_department_id=None,
                    lead_user_name=user, lead_department_name=department)


def show(tasks, **kwargs):
    options = {"labels": LABELS, "today": TODAY, "now": NOW, "stale_days": 14,
               "paths": {t.id: f"一、（{t.id}）" for t in tasks},
               "format_date": lambda d: d.isoformat(), "task_url": "/tasks/",
               "may_update": lambda t: t.lead_user_id == 7}
    return present(tasks, **{**options, **kwargs})


def test_a_plain_open_task_shows_itself_and_opens_its_own_update():
    [view] = show([card(1, user="张三", department="教务处")])
    assert view.url == "/tasks/1" and view.path == "一、（1）"
    assert view.due == "2024-10-20" and not view.overdue
    assert view.owner == "张三 · 教务处"
    assert view.badges == '<span class="badge text-bg-primary">进行中</span>'
    assert view.target is view.task and view.target_url == "/tasks/1" and view.may_update
    assert view.css == "task-card"


def test_overdue_done_stale_accepted_and_unassigned():
    overdue, done, stale = show([
        card(1, due=TODAY - timedelta(days=1)),
        card(2, status=TaskStatus.done, acceptance=Acceptance.pending, due=date(2024, 9, 1)),
        card(3, last_activity=NOW - timedelta(days=15), lead_user_id=None)])
    assert overdue.overdue and overdue.css == "task-card overdue"
    assert not done.overdue and done.css == "task-card done" and done.target is None
    assert done.badges == ('<span class="badge text-bg-success">已完成</span> '
                           '<span class="badge text-bg-info">待验收</span>')
    assert stale.badges.endswith('<span class="badge text-bg-light border">久未更新</span>')
    assert stale.owner == '<span class="text-secondary">未分配</span>'
    assert not stale.may_update  # the policy's check, passed in, said no


def test_a_recurring_measure_follows_its_next_open_occurrence():
    measure = card(10, "每周升旗仪式", recurrence=Recurrence.weekly, due=date(2025, 1, 17))
    occurrence = card(11, "每周升旗仪式（第6周）", parent_id=10, due=TODAY - timedelta(days=2))
    [view] = show([measure], next_occurrences={10: occurrence},
                  occurrence_counts={10: (5, 19)})
    assert view.recurrence == "每周 5/19"
    assert view.target is occurrence and view.target_url == "/tasks/11"
    assert view.target_suffix == "（第6周）"
    assert view.due == (TODAY - timedelta(days=2)).isoformat() and view.overdue
    assert view.url == "/tasks/10"  # the title still opens the measure


def test_a_recurring_measure_with_nothing_open_offers_no_update():
    measure = card(10, recurrence=Recurrence.monthly)
    [view] = show([measure], next_occurrences={}, occurrence_counts={10: (4, 4)})
    assert view.target is None and view.target_url == "" and not view.may_update
    assert view.recurrence == "每月 4/4"


def test_names_and_labels_are_escaped():
    hostile = Labels.build({**TABLES, "status": {**TABLES["status"],
                                                 "in_progress": "<b>进行中</b>"}})
    [view] = show([card(1, user="<script>x</script>", department="a&b")], labels=hostile)
    assert "<script>" not in view.owner and "&lt;script&gt;" in view.owner
    assert "a&amp;b" in view.owner
    assert "&lt;b&gt;进行中&lt;/b&gt;" in view.badges


def test_a_measure_without_counts_shows_only_its_recurrence():
    # occurrence_overview leaves out measures whose occurrences are all cancelled
    [view] = show([card(10, recurrence=Recurrence.termly)], next_occurrences={},
                  occurrence_counts={})
    assert view.recurrence == "每学期"

