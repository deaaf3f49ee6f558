"""Reminders: per-organisation rules, group-robot channels, user preferences and the outbox.

Every notification is written to ``notifications`` under a unique idempotency key
before anything is sent; the sender claims rows, sends and records the outcome
(see ``tracker.reminders.outbox`` for the delivery guarantee).
"""
from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.crypto import is_unreadable
from tracker.models.base import Base, EncryptedText, UTCDateTime, utcnow
from tracker.models.org import _enum

if TYPE_CHECKING:
    from tracker.models.org import Department, Organization, User


class ChannelKind(str, enum.Enum):
    dingtalk = "dingtalk"
    wecom = "wecom"
    feishu = "feishu"


class DeliveryChannel(str, enum.Enum):
    email = "email"
    in_app = "in_app"
    dingtalk = "dingtalk"
    wecom = "wecom"
    feishu = "feishu"


class NotificationStatus(str, enum.Enum):
    pending = "pending"      # waiting for next_attempt_at
    claimed = "claimed"      # taken by a sender, not started
    sending = "sending"      # the external call is under way
    sent = "sent"
    failed = "failed"        # gave up (or delivery uncertain); shown on the admin page
    folded = "folded"        # over the daily cap or stale: covered by the digest
    cancelled = "cancelled"  # the task was closed before the reminder went out


class ReminderSettings(Base):
    """An organisation's reminder rules (defaults when the row does not exist)."""

    __tablename__ = "reminder_settings"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    days_before: Mapped[str] = mapped_column(String(40), default="7,1")  # "7,1"
    on_due: Mapped[bool] = mapped_column(Boolean, default=True)
    overdue_every_days: Mapped[int] = mapped_column(Integer, default=3)    # 0: off
    escalate_after_days: Mapped[int] = mapped_column(Integer, default=7)   # 0: off
    quiet_start: Mapped[time] = mapped_column(Time, default=time(22, 0))
    quiet_end: Mapped[time] = mapped_column(Time, default=time(7, 0))
    daily_cap: Mapped[int] = mapped_column(Integer, default=5)
    digest_time: Mapped[time] = mapped_column(Time, default=time(7, 30))
    weekly_time: Mapped[time] = mapped_column(Time, default=time(8, 0))  # Mondays
    digest_days_ahead: Mapped[int] = mapped_column(Integer, default=7)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organization: Mapped["Organization"] = relationship()

    __table_args__ = (
        CheckConstraint("overdue_every_days >= 0 AND escalate_after_days >= 0 "
                        "AND daily_cap >= 0 AND digest_days_ahead >= 0", name="non_negative"),
    )


class GroupChannel(Base):
    """A DingTalk / WeCom / Feishu group robot of an organisation or one department."""

    __tablename__ = "group_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ChannelKind] = mapped_column(_enum(ChannelKind, "channel_kind"))
    name: Mapped[str] = mapped_column(String(80))
    # Both stored encrypted: the URL carries the DingTalk access token / WeCom key, the
    # secret signs messages. Never logged nor shown; UNREADABLE when the key changed.
    webhook_url: Mapped[str] = mapped_column(EncryptedText)
    secret: Mapped[Optional[str]] = mapped_column(EncryptedText)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_ok_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_error: Mapped[Optional[str]] = mapped_column(String(500))
    last_error_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped["Organization"] = relationship()
    department: Mapped[Optional["Department"]] = relationship()

    @property
    def credentials_unreadable(self) -> bool:
        """The stored URL or secret cannot be decrypted with the configured keys."""
        return is_unreadable(self.webhook_url) or is_unreadable(self.secret)


class NotificationPreference(Base):
    """A user's channels (defaults when the row does not exist: everything on)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    in_app: Mapped[bool] = mapped_column(Boolean, default=True)
    daily_digest: Mapped[bool] = mapped_column(Boolean, default=True)
    weekly_digest: Mapped[bool] = mapped_column(Boolean, default=True)

    user: Mapped["User"] = relationship()


class Notification(Base):
    """The outbox: one row per (idempotency key) — a reminder, digest or test message."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # before_due, on_due, overdue, escalation, …
    channel: Mapped[DeliveryChannel] = mapped_column(_enum(DeliveryChannel, "delivery_channel"))
    recipient_user_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"))
    group_channel_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("group_channels.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"),
                                                   index=True)
    local_day: Mapped[date] = mapped_column(Date)  # the organisation's day it belongs to
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[NotificationStatus] = mapped_column(
        _enum(NotificationStatus, "notification_status"), default=NotificationStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(64))
    claimed_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_error: Mapped[Optional[str]] = mapped_column(String(500))
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    recipient: Mapped[Optional["User"]] = relationship()
    group_channel: Mapped[Optional[GroupChannel]] = relationship()

    __table_args__ = (
        # The sender: what is due now.
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        # The bell and the list: a user's unread in-app notifications.
        Index("ix_notifications_inbox", "recipient_user_id", "channel", "read_at"),
        # The daily cap and the admin page.
        Index("ix_notifications_org_day", "organization_id", "local_day"),
    )


class SenderLease(Base):
    """On SQLite one sender at a time holds the lease (PostgreSQL uses SKIP LOCKED)."""

    __tablename__ = "sender_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
