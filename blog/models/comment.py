from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blog.extensions import db
from blog.models.base import TimestampMixin

if TYPE_CHECKING:
    from blog.models.post import Post
    from blog.models.user import User

COMMENT_STATUSES = ("pending", "approved", "rejected")


class Comment(TimestampMixin, db.Model):
    __tablename__ = "comments"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {COMMENT_STATUSES!r}", name="status"),
        # A post page lists its approved comments oldest first.
        sa.Index("ix_comments_post_id_status_created_at", "post_id", "status", "created_at"),
        # The moderation queue lists pending comments across posts.
        sa.Index("ix_comments_status_created_at", "status", "created_at"),
        sa.Index("ix_comments_author_id_created_at", "author_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)
    body_html: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    sanitizer_version: Mapped[int] = mapped_column(nullable=False, default=0)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")

    post: Mapped["Post"] = relationship(back_populates="comments")
    author: Mapped["User"] = relationship()
