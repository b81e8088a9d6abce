"""The audit log: who changed what, from which value to which."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from blog.extensions import db
from blog.models.audit import AuditEvent


def record(*, actor, action: str, target_type: str, target_id: int | None, before=None, after=None) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits it with its change)."""
    event = AuditEvent(actor_id=getattr(actor, "id", None), action=action, target_type=target_type,
                       target_id=target_id, before=before, after=after)
    db.session.add(event)
    return event


def recent(*, page: int = 1, per_page: int = 50):
    """Audit events newest first, with their actors, paginated."""
    stmt = sa.select(AuditEvent).options(joinedload(AuditEvent.actor)).order_by(
        AuditEvent.created_at.desc(), AuditEvent.id.desc()
    )
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
