from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from blog.extensions import db
from blog.models.base import UTCDateTime, utcnow

DELIVERY_STATUSES = ("queued", "sent", "failed")


class EmailDelivery(db.Model):
    """One email the system decided to send: its idempotency key makes a retried job send it once."""

    __tablename__ = "email_deliveries"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
        # "At most one moderation mail per post per hour" looks up recent rows by kind and reference.
        sa.Index("ix_email_deliveries_kind_ref_created_at", "kind", "ref", "created_at"),
        sa.Index("ix_email_deliveries_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    ref: Mapped[str | None] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxJob(db.Model):
    """A job that could not reach Redis when it was enqueued; flushed to the queue later."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    func: Mapped[str] = mapped_column(sa.String(200), nullable=False)  # "blog.jobs.email:send_email"
    queue: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    args: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    options: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
