from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blog.extensions import db
from blog.models.base import TimestampMixin

if TYPE_CHECKING:
    from blog.models.user import User

MEDIA_STATUSES = ("pending", "uploaded", "processing", "ready", "failed")
# pending: waiting for the browser to upload straight to storage; uploaded: the original is stored and
# processing is queued; processing: a worker is on it; ready: variants written; failed: see failure_reason.


class Media(TimestampMixin, db.Model):
    __tablename__ = "media"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {MEDIA_STATUSES!r}", name="status"),
        sa.Index("ix_media_owner_id_created_at", "owner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # Made on the server (owner id, random id); never derived from the uploaded file's name.
    storage_key: Mapped[str] = mapped_column(sa.String(255), nullable=False, unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")
    # A code from blog.imaging.ImageRejected (shown translated), or "error" / "timeout".
    failure_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # {"webp": {"320": {"key": ..., "width": ..., "height": ...}, ...}, "jpeg": {...},
    #  "square": {"webp": {...}, "jpeg": {...}}, "animated": bool}: written whole by one job, never in parts.
    variants: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    alt_text: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    # Shown to the owner only; never used to build a storage key.
    original_filename: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")

    owner: Mapped["User"] = relationship(foreign_keys=[owner_id])

    @property
    def key_prefix(self) -> str:
        """``owner/random``: every object of this media lives under it (the original and each variant)."""
        return self.storage_key.rsplit("/", 1)[0]

    def variant_key(self, name: str, extension: str) -> str:
        """Deterministic, so a retried job overwrites what a crashed one wrote instead of adding to it."""
        return f"{self.key_prefix}/{name}.{extension}"
