"""Organisations (district → schools), departments and users."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from tracker.models.term import Term


# Werkzeug's default (scrypt). The test suite swaps in a cheap method for speed.
PASSWORD_HASH_METHOD = "scrypt"


class OrgKind(str, enum.Enum):
    school = "school"
    district = "district"


class Role(str, enum.Enum):
    admin = "admin"
    leader = "leader"
    staff = "staff"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as a short string with a CHECK constraint: portable and readable in SQL.
    return Enum(cls, name=name, native_enum=False, length=20, create_constraint=True,
                validate_strings=True, values_callable=lambda e: [m.value for m in e])


user_departments = Table(
    "user_departments",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[OrgKind] = mapped_column(_enum(OrgKind, "org_kind"), default=OrgKind.school)
    parent_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # 验收: when on, "done" counts as complete only after a leader accepts it.
    requires_acceptance: Mapped[bool] = mapped_column(Boolean, default=False)
    stale_after_days: Mapped[int] = mapped_column(Integer, default=14)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Optional["Organization"]] = relationship(
        remote_side="Organization.id", back_populates="children")
    children: Mapped[list["Organization"]] = relationship(back_populates="parent")
    departments: Mapped[list["Department"]] = relationship(
        back_populates="organization", order_by="Department.name",
        foreign_keys="Department.organization_id")
    terms: Mapped[list["Term"]] = relationship(
        back_populates="organization", order_by="Term.start_date.desc()")

    __table_args__ = (CheckConstraint("stale_after_days > 0", name="stale_positive"),)

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    head_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True))

    organization: Mapped[Organization] = relationship(
        back_populates="departments", foreign_keys=[organization_id])
    head: Mapped[Optional["User"]] = relationship(foreign_keys=[head_id], post_update=True)
    members: Mapped[list["User"]] = relationship(
        secondary=user_departments, back_populates="departments", order_by="User.name")

    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    def __repr__(self) -> str:
        return f"<Department {self.id} {self.name!r}>"


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[Optional[str]] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), default=Role.staff)
    locale: Mapped[Optional[str]] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Secret part of the personal iCalendar feed URL; replaced to revoke the old URL.
    calendar_token: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    organization: Mapped[Organization] = relationship()
    departments: Mapped[list[Department]] = relationship(
        secondary=user_departments, back_populates="members", order_by="Department.name")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    # Flask-Login: an inactive user cannot log in and an existing session stops working.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @property
    def is_leader(self) -> bool:
        return self.role in (Role.admin, Role.leader)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
