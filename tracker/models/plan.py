"""Plans and their numbered tree of sections and measures."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.org import _enum

if TYPE_CHECKING:
    from tracker.models.org import Organization, User
    from tracker.models.term import Term


class PlanStatus(str, enum.Enum):
    draft = "draft"
    active = "active"
    archived = "archived"


class NodeKind(str, enum.Enum):
    section = "section"
    measure = "measure"


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    term_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("terms.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[PlanStatus] = mapped_column(
        _enum(PlanStatus, "plan_status"), default=PlanStatus.draft)
    source_filename: Mapped[Optional[str]] = mapped_column(String(255))
    # The whole document as uploaded: read only when re-parsing, so not loaded with every
    # plan (a task page loads its plan, and this is the longest column by far).
    source_text: Mapped[str] = mapped_column(Text, default="", deferred=True)
    # What the parser left outside the tree, kept so nothing the author wrote is lost.
    preamble: Mapped[str] = mapped_column(Text, default="")
    trailer: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A school's copy of a district plan pushed down to it (district cascade).
    source_plan_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), index=True)

    organization: Mapped["Organization"] = relationship()
    source_plan: Mapped[Optional["Plan"]] = relationship(remote_side="Plan.id")
    term: Mapped[Optional["Term"]] = relationship()
    created_by: Mapped[Optional["User"]] = relationship()
    nodes: Mapped[list["PlanNode"]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", passive_deletes=True,
        order_by="PlanNode.position")

    def __repr__(self) -> str:
        return f"<Plan {self.id} {self.title!r}>"


class PlanNode(Base):
    """One numbered item of a plan. ``position`` orders the whole plan in document order."""

    __tablename__ = "plan_nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    parent_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("plan_nodes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(40), default="")    # as printed: "（一）"
    number: Mapped[str] = mapped_column(String(40), default="")   # normalised: "（一）", "1"
    level: Mapped[int] = mapped_column(Integer, default=1)
    heading: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[NodeKind] = mapped_column(_enum(NodeKind, "node_kind"), default=NodeKind.measure)
    hints: Mapped[Optional[dict]] = mapped_column(JSON)
    source_line: Mapped[Optional[int]] = mapped_column(Integer)

    plan: Mapped[Plan] = relationship(back_populates="nodes")
    parent: Mapped[Optional["PlanNode"]] = relationship(remote_side="PlanNode.id")

    __table_args__ = (UniqueConstraint("plan_id", "position"),)

    def __repr__(self) -> str:
        return f"<PlanNode {self.id} {self.label}{self.heading[:12]!r}>"
