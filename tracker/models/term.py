"""Terms (学年/学期): the calendar that deadline hints and reports are read against."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Optional

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base

if TYPE_CHECKING:
    from tracker.models.org import Organization


class Term(Base):
    __tablename__ = "terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))  # e.g. 2024—2025学年第一学期
    school_year: Mapped[Optional[str]] = mapped_column(String(20))  # e.g. 2024—2025
    start_date: Mapped[date] = mapped_column(Date)
    mid_date: Mapped[Optional[date]] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)

    organization: Mapped["Organization"] = relationship(back_populates="terms")

    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        CheckConstraint("end_date > start_date", name="end_after_start"),
        CheckConstraint("mid_date IS NULL OR (mid_date > start_date AND mid_date < end_date)",
                        name="mid_inside"),
    )

    def contains(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date

    def __repr__(self) -> str:
        return f"<Term {self.id} {self.name!r}>"
