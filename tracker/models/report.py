"""Stored term reports (工作计划执行、完成情况): what was asked for, its progress and files."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.org import _enum

if TYPE_CHECKING:
    from tracker.models.org import Organization, User
    from tracker.models.plan import Plan
    from tracker.models.term import Term


class ReportKind(str, enum.Enum):
    school = "school"        # one plan of one school
    district = "district"    # a district's schools over a term


class ReportStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class Report(Base):
    """One generation of a report. ``files`` maps a format (html, docx, pdf, xlsx) to the
    file's path relative to ``<instance>/reports``. ``idempotency_key`` is set by the
    scheduled term-end run only: unique, so a second run (or a second scheduler) cannot
    claim the same delivery again.

    ``claimed_by`` / ``claimed_until``: who is generating (status running) or mailing
    (done, not yet delivered) the report, and until when that claim holds unless renewed;
    for a pending report, by when it must have been started. Every write of a holder is
    conditional on its claim, and a claim past its time may be taken over (see
    ``tracker.reports.services``). ``attempts`` counts generations begun;
    ``next_attempt_at`` is when a failed scheduled one is tried again (None: not
    automatically)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[Optional[int]] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"),
                                                   index=True)
    term_id: Mapped[Optional[int]] = mapped_column(ForeignKey("terms.id", ondelete="SET NULL"))
    kind: Mapped[ReportKind] = mapped_column(_enum(ReportKind, "report_kind"),
                                             default=ReportKind.school)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus, "report_status"),
                                                 default=ReportStatus.pending)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    formats: Mapped[str] = mapped_column(String(40), default="html,docx,pdf,xlsx")
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Delivery by e-mail (scheduled runs): started before the first message goes out, so
    # a crash mid-delivery is never followed by a second delivery.
    delivery_started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[Optional[str]] = mapped_column(String(80))
    claimed_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    organization: Mapped["Organization"] = relationship()
    plan: Mapped[Optional["Plan"]] = relationship()
    term: Mapped[Optional["Term"]] = relationship()
    requested_by: Mapped[Optional["User"]] = relationship()

    __table_args__ = (
        Index("ix_reports_plan_created", "plan_id", "created_at"),
    )

    @property
    def format_list(self) -> list[str]:
        return [f for f in self.formats.split(",") if f]

    def __repr__(self) -> str:
        return f"<Report {self.id} {self.kind.value} {self.status.value}>"
