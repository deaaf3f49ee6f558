"""Demo data: a school with departments, staff, the current term and an imported plan.

Deterministic (seeded) so screenshots and tests see the same school every time.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tracker.calendar import default_term
from tracker.extensions import db
from tracker.models import (
    Acceptance,
    Department,
    Organization,
    OrgKind,
    Role,
    Task,
    TaskEvent,
    TaskStatus,
    Term,
    User,
)
from tracker.plans.importing import create_plan

DEMO_PASSWORD = "demo1234"
DEMO_DOMAIN = "demo.school"
PLAN_FILE = Path(__file__).with_name("plan.txt")

DEPARTMENTS = ["校长室", "办公室", "教务处", "德育处", "总务处", "少先队", "安全办", "党支部",
               "教科室", "工会"]
# (e-mail local part, name, role, departments)
PEOPLE = [
    ("admin", "王建国", Role.admin, ["办公室"]),
    ("leader", "李淑芬", Role.leader, ["校长室", "党支部"]),
    ("staff", "张伟", Role.staff, ["教务处"]),
    ("zhaomin", "赵敏", Role.leader, ["校长室"]),
    ("chenjing", "陈静", Role.staff, ["德育处"]),
    ("liuyang", "刘洋", Role.staff, ["总务处"]),
    ("yangfan", "杨帆", Role.staff, ["少先队"]),
    ("huangli", "黄丽", Role.staff, ["安全办"]),
    ("zhouqiang", "周强", Role.staff, ["教科室"]),
    ("wuxia", "吴霞", Role.staff, ["教务处"]),
    ("xulei", "徐磊", Role.staff, ["德育处"]),
    ("sunhong", "孙红", Role.staff, ["工会", "办公室"]),
    ("mapeng", "马鹏", Role.staff, ["总务处", "安全办"]),
    ("zhuli", "朱莉", Role.staff, ["教务处"]),
    ("huchao", "胡超", Role.staff, ["教科室"]),
    ("guoyan", "郭燕", Role.staff, ["少先队", "德育处"]),
    ("linfeng", "林峰", Role.staff, ["党支部"]),
    ("hejun", "何军", Role.staff, ["教务处"]),
    ("gaoya", "高雅", Role.staff, ["德育处"]),
    ("luobin", "罗斌", Role.staff, ["安全办"]),
]
HEADS = {"教务处": "staff", "德育处": "chenjing", "总务处": "liuyang", "少先队": "yangfan",
         "安全办": "huangli", "教科室": "zhouqiang", "办公室": "admin", "党支部": "leader",
         "校长室": "leader", "工会": "sunhong"}
NOTES_PROGRESS = ["已制定方案，正在推进。", "已召开专题会议，布置到各年级。", "完成一半，下周继续。",
                  "材料收集中。"]
NOTES_DONE = ["已完成，过程材料已归档。", "活动已开展，照片和总结已上传。", "按计划完成，效果良好。"]
NOTES_BLOCKED = ["场地未落实，等待总务处协调。", "经费审批未通过，暂缓。"]


def demo_exists() -> bool:
    return db.session.execute(select(User.id).where(
        User.email == f"admin@{DEMO_DOMAIN}")).first() is not None


def _utc(day: date, tz: ZoneInfo, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tz).astimezone(timezone.utc)


def create_demo(today: date, *, seed: int = 2024) -> Organization:
    """Build the demo school; flushes, the caller commits."""
    rng = random.Random(seed)
    org = Organization(name="演示实验小学", kind=OrgKind.school, timezone="Asia/Shanghai",
                       requires_acceptance=True, stale_after_days=14)
    db.session.add(org)
    db.session.flush()
    departments = {name: Department(organization_id=org.id, name=name) for name in DEPARTMENTS}
    db.session.add_all(departments.values())
    users = {}
    hashed = User()
    hashed.set_password(DEMO_PASSWORD)  # hash once: every demo account shares the password
    for local, name, role, depts in PEOPLE:
        users[local] = User(organization_id=org.id, name=name, email=f"{local}@{DEMO_DOMAIN}",
                            phone=f"1390000{len(users):04d}", role=role,
                            password_hash=hashed.password_hash,
                            departments=[departments[d] for d in depts])
    db.session.add_all(users.values())
    db.session.flush()
    for dept, local in HEADS.items():
        departments[dept].head = users[local]

    dates = default_term(today)
    term = Term(organization_id=org.id, name=dates.name, school_year=dates.school_year,
                start_date=dates.start, mid_date=dates.mid, end_date=dates.end)
    db.session.add(term)
    db.session.flush()

    from tracker.plans.hints import TermCalendar
    from tracker.plans.parsing import parse_plan

    text = PLAN_FILE.read_text(encoding="utf-8")
    parsed = parse_plan(text, TermCalendar(start=term.start_date, mid=term.mid_date,
                                           end=term.end_date)).to_dict()
    plan = create_plan(org, term, parsed, actor=users["leader"], source_filename="学校工作计划.txt",
                       source_text=text)
    tasks = db.session.execute(select(Task).where(Task.plan_id == plan.id)
                               .order_by(Task.id)).scalars().all()
    _assign_and_progress(tasks, users, departments, term, today, rng, ZoneInfo(org.timezone))
    db.session.flush()
    return org


def _assign_and_progress(tasks, users, departments, term, today, rng, tz) -> None:
    staff_by_dept: dict[str, list[User]] = {}
    for user in users.values():
        for dept in user.departments:
            staff_by_dept.setdefault(dept.name, []).append(user)
    span = (term.end_date - term.start_date).days
    for index, task in enumerate(tasks):
        if task.lead_department is None:
            task.lead_department = departments[DEPARTMENTS[2 + index % 6]]
        candidates = staff_by_dept.get(task.lead_department.name) or [users["staff"]]
        task.lead_user = users["staff"] if index % 5 == 0 else rng.choice(candidates)
        if index % 4 == 1:
            task.supporting_departments = [departments[rng.choice(DEPARTMENTS[2:8])]]
        if index % 7 == 3 and task.lead_user is not users["staff"]:
            task.supporting_users = [users["staff"]]
        if task.due_date is None or not term.contains(task.due_date):
            task.due_date = term.start_date + timedelta(days=rng.randint(20, span))
        task.start_date = term.start_date
        _simulate(task, users, today, rng, tz)


def _simulate(task: Task, users, today: date, rng, tz: ZoneInfo) -> None:
    """Give the task a plausible history up to today."""
    actor = task.lead_user
    elapsed = (today - task.start_date).days
    if elapsed <= 0:
        return
    roll = rng.random()
    due_passed = task.due_date < today
    if roll < 0.06:
        outcome = TaskStatus.cancelled
    elif roll < 0.14:
        outcome = TaskStatus.blocked
    elif due_passed and roll < 0.75 or not due_passed and roll < 0.3:
        outcome = TaskStatus.done
    elif roll < 0.9:
        outcome = TaskStatus.in_progress
    else:
        outcome = TaskStatus.not_started
    if outcome == TaskStatus.not_started:
        return
    first = task.start_date + timedelta(days=rng.randint(1, max(1, min(elapsed, 30))))
    first = min(first, today)
    progress = rng.choice([20, 30, 40, 50])
    _event(task, actor, first, tz, {"status": ["not_started", "in_progress"],
                                    "progress": [0, progress]}, rng.choice(NOTES_PROGRESS))
    task.status, task.progress = TaskStatus.in_progress, progress
    if outcome == TaskStatus.in_progress:
        return
    last = min(today, first + timedelta(days=rng.randint(3, 40)))
    if outcome == TaskStatus.done:
        late = rng.random() < 0.25
        finish = min(today, task.due_date + timedelta(days=rng.randint(1, 6))) if late \
            else min(last, task.due_date)
        finish = max(finish, first)
        _event(task, actor, finish, tz, {"status": ["in_progress", "done"],
                                         "progress": [progress, 100]}, rng.choice(NOTES_DONE))
        task.status, task.progress = TaskStatus.done, 100
        task.completed_at = _utc(finish, tz, 16)
        if rng.random() < 0.6 and finish < today:
            task.acceptance = Acceptance.accepted
            task.accepted_by = users["leader"]
            task.accepted_at = _utc(min(today, finish + timedelta(days=2)), tz, 9)
            _event(task, users["leader"], min(today, finish + timedelta(days=2)), tz,
                   {"acceptance": ["pending", "accepted"]}, "验收通过。")
        else:
            task.acceptance = Acceptance.pending
    elif outcome == TaskStatus.blocked:
        _event(task, actor, last, tz, {"status": ["in_progress", "blocked"]},
               rng.choice(NOTES_BLOCKED))
        task.status = TaskStatus.blocked
    else:
        _event(task, users["leader"], last, tz, {"status": ["in_progress", "cancelled"]},
               "因上级安排调整，本学期不再开展。")
        task.status = TaskStatus.cancelled


def _event(task: Task, actor: User, day: date, tz: ZoneInfo, changes: dict, note: str) -> None:
    when = _utc(day, tz, 10 + len(task.events) % 6)
    db.session.add(TaskEvent(task=task, actor=actor, created_at=when, kind="updated",
                             changes=changes, note=note))
    task.last_activity_at = when
