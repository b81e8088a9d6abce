from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blog.extensions import db
from blog.models.base import TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from blog.models.comment import Comment
    from blog.models.media import Media
    from blog.models.user import User

POST_STATUSES = ("draft", "published", "archived")
POST_KINDS = ("post", "page")

post_tags = sa.Table(
    "post_tags",
    db.metadata,
    sa.Column("post_id", sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The tag page walks tag -> posts; the primary key already serves post -> tags.
    sa.Index("ix_post_tags_tag_id_post_id", "tag_id", "post_id"),
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(60), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    def __repr__(self) -> str:
        return f"<Tag {self.slug}>"


class Post(TimestampMixin, db.Model):
    __tablename__ = "posts"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {POST_STATUSES!r}", name="status"),
        sa.CheckConstraint(f"kind IN {POST_KINDS!r}", name="kind"),
        # Home feed and archives: visible posts newest first.
        sa.Index("ix_posts_kind_status_published_at", "kind", "status", "published_at"),
        # Author profile: one author's visible posts newest first.
        sa.Index("ix_posts_author_id_status_published_at", "author_id", "status", "published_at"),
        # The studio lists posts by last change.
        sa.Index("ix_posts_kind_updated_at", "kind", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="post")
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(220), nullable=False, unique=True)
    source: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    body_html: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    sanitizer_version: Mapped[int] = mapped_column(nullable=False, default=0)
    excerpt: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    word_count: Mapped[int] = mapped_column(nullable=False, default=0)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="draft")
    # A published post whose published_at lies in the future is "scheduled": readers see it from then on.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    featured_image_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media.id", ondelete="SET NULL"))
    # Optimistic locking: SQLAlchemy adds "AND version = :old" to every UPDATE and bumps it.
    version: Mapped[int] = mapped_column(nullable=False, default=1)
    # Pages only: position in the site navigation (None keeps a page out of it).
    nav_order: Mapped[int | None] = mapped_column()

    author: Mapped["User"] = relationship(back_populates="posts", foreign_keys=[author_id])
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, order_by=Tag.name)
    featured_image: Mapped["Media | None"] = relationship(foreign_keys=[featured_image_id])
    comments: Mapped[list["Comment"]] = relationship(back_populates="post", passive_deletes=True)
    revisions: Mapped[list["PostRevision"]] = relationship(
        back_populates="post", passive_deletes=True, order_by="PostRevision.id.desc()"
    )
    # Up to three posts sharing the most tags, stored by the related-posts job (blog.jobs.related).
    related: Mapped[list["Post"]] = relationship(
        secondary=lambda: related_posts,
        primaryjoin=lambda: Post.id == related_posts.c.post_id,
        secondaryjoin=lambda: Post.id == related_posts.c.related_id,
        order_by=lambda: related_posts.c.position,
        viewonly=True,
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_public(self) -> bool:
        """Readers can see it: published, and its publication time has come."""
        return self.status == "published" and self.published_at is not None and self.published_at <= utcnow()

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.word_count / 230))

    def __repr__(self) -> str:
        return f"<Post {self.slug}>"


class SlugRedirect(db.Model):
    """An old slug of a post: readers following an old link are sent on with a 301."""

    __tablename__ = "slug_redirects"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_slug: Mapped[str] = mapped_column(sa.String(220), nullable=False, unique=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    post: Mapped[Post] = relationship()


class PostRevision(db.Model):
    __tablename__ = "post_revisions"
    __table_args__ = (sa.Index("ix_post_revisions_post_id_created_at", "post_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    editor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    post: Mapped[Post] = relationship(back_populates="revisions")
    editor: Mapped["User | None"] = relationship()


related_posts = sa.Table(
    "related_posts",
    db.metadata,
    sa.Column("post_id", sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("related_id", sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.SmallInteger, nullable=False),
    # How many tags the two posts share when the list was computed: a newcomer is compared against it.
    sa.Column("shared_tags", sa.SmallInteger, nullable=False),
    # "Which lists show this post?" when it is unpublished or loses a tag.
    sa.Index("ix_related_posts_related_id", "related_id"),
)
