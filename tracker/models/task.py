"""Tasks, their append-only history and the evidence attached to it."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.org import _enum

if TYPE_CHECKING:
    from tracker.models.org import Department, Organization, User
    from tracker.models.plan import Plan, PlanNode


class TaskStatus(str, enum.Enum):
    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"
    blocked = "blocked"
    cancelled = "cancelled"


OPEN_STATUSES = (TaskStatus.not_started, TaskStatus.in_progress, TaskStatus.blocked)


class Acceptance(str, enum.Enum):
    not_required = "not_required"
    pending = "pending"      # done, waiting for a leader
    accepted = "accepted"
    rejected = "rejected"    # sent back with a note


class Recurrence(str, enum.Enum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    termly = "termly"
    yearly = "yearly"


task_supporting_users = Table(
    "task_supporting_users",
    Base.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

task_supporting_departments = Table(
    "task_supporting_departments",
    Base.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    plan_id: Mapped[Optional[int]] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"),
                                                   index=True)
    plan_node_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("plan_nodes.id", ondelete="SET NULL"), index=True)
    # An occurrence of a recurring measure points at the measure's task.
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    # The district measure this school task was pushed down from (district cascade).
    source_task_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    lead_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lead_department_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"))
    start_date: Mapped[Optional[date]] = mapped_column(Date)
    due_date: Mapped[Optional[date]] = mapped_column(Date)
    recurrence: Mapped[Optional[Recurrence]] = mapped_column(_enum(Recurrence, "recurrence"))
    status: Mapped[TaskStatus] = mapped_column(
        _enum(TaskStatus, "task_status"), default=TaskStatus.not_started)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    target_text: Mapped[Optional[str]] = mapped_column(String(200))
    target_value: Mapped[Optional[Decimal]] = mapped_column(Numeric(14, 2))
    target_unit: Mapped[Optional[str]] = mapped_column(String(20))
    actual_value: Mapped[Optional[Decimal]] = mapped_column(Numeric(14, 2))
    acceptance: Mapped[Acceptance] = mapped_column(
        _enum(Acceptance, "acceptance"), default=Acceptance.not_required)
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    accepted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organization: Mapped["Organization"] = relationship()
    plan: Mapped[Optional["Plan"]] = relationship()
    plan_node: Mapped[Optional["PlanNode"]] = relationship()
    parent: Mapped[Optional["Task"]] = relationship(remote_side="Task.id",
                                                    foreign_keys=[parent_id])
    source_task: Mapped[Optional["Task"]] = relationship(remote_side="Task.id",
                                                         foreign_keys=[source_task_id])
    lead_user: Mapped[Optional["User"]] = relationship(foreign_keys=[lead_user_id])
    lead_department: Mapped[Optional["Department"]] = relationship()
    accepted_by: Mapped[Optional["User"]] = relationship(foreign_keys=[accepted_by_id])
    supporting_users: Mapped[list["User"]] = relationship(secondary=task_supporting_users)
    supporting_departments: Mapped[list["Department"]] = relationship(
        secondary=task_supporting_departments)
    events: Mapped[list["TaskEvent"]] = relationship(
        back_populates="task", order_by="TaskEvent.id", passive_deletes=True)

    # Optimistic locking: every UPDATE checks and bumps the version.
    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        CheckConstraint("start_date IS NULL OR due_date IS NULL OR due_date >= start_date",
                        name="due_after_start"),
        # Dashboards and reminders: open tasks of an organisation by due date.
        Index("ix_tasks_org_status_due", "organization_id", "status", "due_date"),
        Index("ix_tasks_lead_user_due", "lead_user_id", "due_date"),
        Index("ix_tasks_lead_department_due", "lead_department_id", "due_date"),
        # Occurrences by parent; partial, so that "parent_id IS NULL" (every list of
        # top-level tasks) is never mistaken for a selective condition by the planner.
        Index("ix_tasks_parent_id", "parent_id", sqlite_where=text("parent_id IS NOT NULL"),
              postgresql_where=text("parent_id IS NOT NULL")),
        # Top-level tasks of an organisation by due date: task lists and my tasks.
        Index("ix_tasks_org_top_due", "organization_id", "due_date",
              sqlite_where=text("parent_id IS NULL"),
              postgresql_where=text("parent_id IS NULL")),
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_date is not None and self.due_date < today

    @property
    def lead_user_name(self) -> str | None:
        """Names as list rows carry them (``tasks.queries.TaskCard``), for shared macros."""
        return self.lead_user.name if self.lead_user else None

    @property
    def lead_department_name(self) -> str | None:
        return self.lead_department.name if self.lead_department else None

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.title[:20]!r} {self.status.value}>"


class TaskEvent(Base):
    """Append-only history: never updated, never deleted (enforced below)."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))  # created, updated, assigned, accepted, …
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # {"field": [old, new]}
    note: Mapped[str] = mapped_column(Text, default="")

    task: Mapped[Task] = relationship(back_populates="events")
    actor: Mapped[Optional["User"]] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(back_populates="event")

    __table_args__ = (Index("ix_task_events_task_created", "task_id", "created_at"),)


class Attachment(Base):
    """Evidence (佐证材料) stored outside the web root under its content hash."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("task_events.id", ondelete="CASCADE"),
                                          index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[TaskEvent] = relationship(back_populates="attachments")


@event.listens_for(TaskEvent, "before_update")
@event.listens_for(TaskEvent, "before_delete")
def _history_is_append_only(mapper, connection, target):
    raise RuntimeError("task history is append-only")
