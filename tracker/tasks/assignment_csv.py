"""Bulk assignment from a CSV file: read and check every line before anything changes.

Columns (header row required; English or Chinese names, any order):
``task`` (id) · ``owner`` (e-mail of the lead owner) · ``department`` (lead
department's name) · ``due`` (2025-03-31 or 2025/3/31). An empty cell leaves that
field as it is. ``parse`` is pure; ``resolve`` looks the names up in the
organisation and reports every problem with its line number.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Department, Organization, Task, User

COLUMNS = {
    "task": ("task", "task_id", "id", "任务编号", "编号", "任务id"),
    "owner": ("owner", "owner_email", "email", "负责人", "负责人邮箱", "牵头人"),
    "department": ("department", "dept", "部门", "牵头部门", "牵头单位"),
    "due": ("due", "due_date", "deadline", "完成时限", "截止日期"),
}
MAX_LINES = 10_000


@dataclass(frozen=True)
class Line:
    number: int  # line in the file (the header is line 1)
    task_id: int
    owner_email: str
    department: str
    due: date | None


@dataclass(frozen=True)
class Assignment:
    line: int
    task: Task
    lead_user: User | None
    lead_department: Department | None
    due: date | None


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM, as Excel writes it), else GB18030 (WPS/Excel in China)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _parse_date(text: str) -> date | None:
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def parse(text: str) -> tuple[list[Line], list[str]]:
    """Lines and problems ("line 3: …"); pure."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return [], ["line 1: the file is empty (expected a header row: task,owner,department,due)"]
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        key = name.strip().lower()
        for column, aliases in COLUMNS.items():
            if key in aliases and column not in index:
                index[column] = position
    if "task" not in index:
        return [], ["line 1: no task column (expected a header row: task,owner,department,due)"]
    if len(index) == 1:
        return [], ["line 1: nothing to assign: add an owner, department or due column"]
    lines: list[Line] = []
    errors: list[str] = []
    seen: dict[int, int] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(lines) + len(errors) >= MAX_LINES:
            errors.append(f"line {number}: too many lines (at most {MAX_LINES})")
            break

        def cell(column: str, row=row) -> str:
            position = index.get(column)
            return row[position].strip() if position is not None and position < len(row) else ""

        problems = []
        raw_id = cell("task")
        task_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() else None
        if task_id is None or not 0 < task_id < 2**31:
            problems.append(f"task id {raw_id!r} is not a number")
        elif task_id in seen:
            problems.append(f"task {task_id} is already on line {seen[task_id]}")
        raw_due = cell("due")
        due = _parse_date(raw_due) if raw_due else None
        if raw_due and due is None:
            problems.append(f"due date {raw_due!r} is not a date like 2025-03-31")
        owner, department = cell("owner"), cell("department")
        if not (owner or department or raw_due):
            problems.append("nothing to change (owner, department and due are empty)")
        if problems:
            errors.extend(f"line {number}: {p}" for p in problems)
            continue
        seen[task_id] = number
        lines.append(Line(number, task_id, owner, department, due))
    if not lines and not errors:
        errors.append("the file has a header but no lines")
    return lines, errors


def resolve(org: Organization, lines: list[Line]) -> tuple[list[Assignment], list[str]]:
    """Look up tasks, owners and departments in the organisation (four queries)."""
    tasks = {t.id: t for t in db.session.execute(select(Task).where(
        Task.organization_id == org.id, Task.id.in_({line.task_id for line in lines}))).scalars()}
    emails = {line.owner_email.lower() for line in lines if line.owner_email}
    users = {u.email.lower(): u for u in db.session.execute(select(User).where(
        User.organization_id == org.id, func.lower(User.email).in_(emails))).scalars()}
    departments = {d.name: d for d in db.session.execute(select(Department).where(
        Department.organization_id == org.id)).scalars()}
    assignments: list[Assignment] = []
    errors: list[str] = []
    for line in lines:
        problems = []
        task = tasks.get(line.task_id)
        if task is None:
            problems.append(f"no task {line.task_id} in {org.name}")
        user = users.get(line.owner_email.lower()) if line.owner_email else None
        if line.owner_email and user is None:
            problems.append(f"no user {line.owner_email} in {org.name}")
        elif user is not None and not user.active:
            problems.append(f"user {line.owner_email} is deactivated")
        department = departments.get(line.department) if line.department else None
        if line.department and department is None:
            problems.append(f"no department {line.department!r} in {org.name}")
        if task is not None and line.due and task.start_date and line.due < task.start_date:
            problems.append(f"due date {line.due.isoformat()} is before the task's start "
                            f"date {task.start_date.isoformat()}")
        if problems:
            errors.extend(f"line {line.number}: {p}" for p in problems)
        else:
            assignments.append(Assignment(line.number, task, user, department, line.due))
    return assignments, errors
