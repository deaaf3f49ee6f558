"""Recording administrative actions. Services call ``record``; it flushes with them."""
from __future__ import annotations

from tracker.extensions import db
from tracker.models import AuditEntry, User


def record(organization_id: int, actor: User | None, action: str, target: str = "",
           **details) -> AuditEntry:
    entry = AuditEntry(organization_id=organization_id, actor=actor, action=action,
                       target=target[:200], details=details)
    db.session.add(entry)
    return entry
