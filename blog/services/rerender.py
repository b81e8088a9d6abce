"""Re-rendering stored HTML when the sanitizer policy changes (``sanitize.VERSION``).

Every rendered row keeps the policy version it was rendered under. Readers' pages re-render stale rows
lazily (the post, its comments, the author's bio); :func:`rerender_all` does every row at once, for an
operator after an upgrade (``flask posts rerender``).
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from blog import sanitize
from blog.extensions import db
from blog.models.comment import Comment
from blog.models.post import Post
from blog.models.user import User
from blog.services import accounts, comments, posts

BATCH = 200


def _each(model, version_column, render: Callable, *, force: bool) -> int:
    """Render rows of ``model`` written under another policy (all rows with ``force``), committing per batch."""
    where = sa.true() if force else version_column != sanitize.VERSION
    last_id, done = 0, 0
    while True:
        rows = list(db.session.scalars(
            sa.select(model).where(where, model.id > last_id).order_by(model.id).limit(BATCH)))
        if not rows:
            return done
        for row in rows:
            render(row)
        db.session.commit()
        done += len(rows)
        last_id = rows[-1].id


def rerender_all(*, force: bool = False) -> dict[str, int]:
    """Re-render stale post and page bodies, comments and bios. Returns how many of each were rendered."""
    return {
        "posts": _each(Post, Post.sanitizer_version, posts.render_body, force=force),
        "comments": _each(Comment, Comment.sanitizer_version, comments.render_comment, force=force),
        "bios": _each(User, User.bio_sanitizer_version, accounts.render_bio, force=force),
    }
