"""All models, imported here so Alembic and the app see one metadata."""
from tracker.models.audit import AuditEntry
from tracker.models.base import Base, utcnow
from tracker.models.notify import (
    ChannelKind,
    DeliveryChannel,
    GroupChannel,
    Notification,
    NotificationPreference,
    NotificationStatus,
    ReminderSettings,
    SenderLease,
)
from tracker.models.org import Department, Organization, OrgKind, Role, User, user_departments
from tracker.models.plan import NodeKind, Plan, PlanNode, PlanStatus
from tracker.models.report import Report, ReportKind, ReportStatus
from tracker.models.task import (
    OPEN_STATUSES,
    Acceptance,
    Attachment,
    Recurrence,
    Task,
    TaskEvent,
    TaskStatus,
    task_supporting_departments,
    task_supporting_users,
)
from tracker.models.term import Term
from tracker.models.token import ApiToken

__all__ = [
    "AuditEntry",
    "Acceptance", "ApiToken", "Attachment", "Base", "Department", "NodeKind", "OPEN_STATUSES",
    "OrgKind",
    "Organization", "Plan", "PlanNode", "PlanStatus", "Recurrence", "Role", "Task", "TaskEvent",
    "TaskStatus", "Term", "User", "task_supporting_departments", "task_supporting_users",
    "user_departments", "utcnow",
    "ChannelKind", "DeliveryChannel", "GroupChannel", "Notification", "NotificationPreference",
    "NotificationStatus", "ReminderSettings", "SenderLease",
    "Report", "ReportKind", "ReportStatus",
]
