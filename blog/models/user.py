from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blog.extensions import db
from blog.models.base import TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from blog.models.media import Media
    from blog.models.post import Post

ROLES = ("reader", "author", "editor", "admin")
USER_STATUSES = ("active", "suspended")


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.Index("uq_users_username_lower", sa.func.lower(sa.text("username")), unique=True),
        sa.Index("uq_users_email_lower", sa.func.lower(sa.text("email")), unique=True),
        sa.CheckConstraint(f"role IN {ROLES!r}", name="role"),
        sa.CheckConstraint(f"status IN {USER_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(30), nullable=False)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(80), nullable=False, default="")
    bio: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    bio_html: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    bio_sanitizer_version: Mapped[int] = mapped_column(nullable=False, default=0)
    avatar_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("media.id", ondelete="SET NULL", use_alter=True, name="fk_users_avatar_id_media")
    )
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="reader")
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="active")
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Rotated on password change and "sign out everywhere": sessions carry it, so old ones stop working.
    session_token: Mapped[str] = mapped_column(sa.String(64), nullable=False, default=new_session_token)
    # Two-factor authentication (blog/services/two_factor.py). The TOTP secret is stored encrypted; it is
    # set while setting up and stays once confirmed (totp_enabled_at). The last accepted time step makes a
    # code good for one sign-in only.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    avatar: Mapped["Media | None"] = relationship(foreign_keys=[avatar_id], post_update=True)
    posts: Mapped[list["Post"]] = relationship(back_populates="author", foreign_keys="Post.author_id")

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.status == "active"

    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class RecoveryCode(db.Model):
    """A single-use code that stands in for a TOTP code; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"
    __table_args__ = (sa.Index("ix_recovery_codes_user_id_code_hash", "user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    code_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
