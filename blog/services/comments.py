"""Comments: what a reader sees under a post, the rules for writing one, and moderation.

A comment is rendered with the comment allowlist once, when it is written. It is approved at once when its
author already has an approved comment or may moderate the post; otherwise it waits in the moderation
queue, visible only to its author. Editors and admins moderate every comment, authors those on their posts.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager, joinedload

from blog import permissions, sanitize, user_cache
from blog.exceptions import InvalidInput, NotFound, PermissionDenied
from blog.extensions import db
from blog.i18n import _
from blog.models.comment import COMMENT_STATUSES, Comment
from blog.models.post import Post
from blog.models.user import User
from blog.services import audit, notifications
from blog.services.pagination import Window, window

QUEUE_PER_PAGE = 25
MODERATION_ACTIONS = ("approve", "reject", "delete")
MODERATION_BATCH_MAX = 100
RATE_WINDOW = timedelta(seconds=60)
_NEW_STATUS = {"approve": "approved", "reject": "rejected"}
_AUDIT_ACTION = {"approve": "comment.approved", "reject": "comment.rejected", "delete": "comment.deleted"}
_MAX_ID = 2**31 - 1  # larger ids cannot exist, and SQLite cannot even bind ones past 2**63


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _render(source: str) -> sanitize.Rendered:
    return sanitize.render_markdown(source, internal_hosts=current_app.config["INTERNAL_HOSTS"], comment=True)


def _refresh_stale(comments: list[Comment]) -> None:
    """Re-render rows written under an older sanitizer policy (once per policy change), then save them."""
    stale = [c for c in comments if c.sanitizer_version != sanitize.VERSION]
    if not stale:
        return
    for comment in stale:
        render_comment(comment)
    db.session.commit()


def render_comment(comment: Comment) -> None:
    """Render ``comment.source`` under the current sanitizer policy (not committed)."""
    rendered = _render(comment.source)
    comment.body_html = rendered.html
    comment.sanitizer_version = rendered.version


def require_moderator(actor) -> None:
    """Raise PermissionDenied unless ``actor`` moderates comments at all: an author (on their own posts),
    an editor or an admin. Lets a view refuse a form before looking at what was submitted."""
    if not permissions.has_role(actor, "author"):
        raise PermissionDenied(_("Only authors, editors and administrators moderate comments."))


# ---- reading ----------------------------------------------------------------------------------------

def approved_comments(*, post) -> list[Comment]:
    """The comments every reader sees under ``post``, oldest first, with their authors (one query)."""
    return _comments_of(post.id, Comment.status == "approved")


def pending_comments(*, post_id: int, viewer=None) -> list[Comment]:
    """``viewer``'s own comments on the post ``post_id`` that wait for moderation, oldest first, so they can see
    theirs awaits a moderator (staff included: the queue is where they see everyone's). No query for an
    anonymous viewer, nor for one whose cached row says they have none (blog/user_cache.py)."""
    if viewer is None or not getattr(viewer, "is_authenticated", False) or viewer.id is None:
        return []
    if user_cache.has_no_pending_comments(viewer):
        return []
    return _comments_of(post_id, sa.and_(Comment.status == "pending", Comment.author_id == viewer.id))


def _comments_of(post_id: int, shown) -> list[Comment]:
    comments = list(db.session.scalars(
        sa.select(Comment)
        .where(Comment.post_id == post_id, shown)
        .options(joinedload(Comment.author))
        .order_by(Comment.created_at, Comment.id)
    ))
    _refresh_stale(comments)
    return comments


def moderation_queue(*, actor, status: str = "pending", page: int = 1) -> Window:
    """Comments with ``status``, newest first, with their post and author, one page of QUEUE_PER_PAGE.

    Editors and admins see every comment, authors the comments on their own posts.
    Raises PermissionDenied for anyone else, InvalidInput on ``status`` for an unknown status,
    NotFound for a page out of range.
    """
    require_moderator(actor)
    if status not in COMMENT_STATUSES:
        raise InvalidInput({"status": [_("Unknown status.")]})
    stmt = (
        sa.select(Comment)
        .join(Comment.post)
        .where(Comment.status == status)
        .options(contains_eager(Comment.post), joinedload(Comment.author))
        .order_by(Comment.created_at.desc(), Comment.id.desc())
    )
    if not permissions.can_moderate(actor):  # an author: only their own posts
        stmt = stmt.where(Post.author_id == actor.id)
    result = window(stmt, page=page, per_page=QUEUE_PER_PAGE)
    _refresh_stale(result.items)
    return result


# ---- writing ----------------------------------------------------------------------------------------

def add_comment(*, actor, post_id: int, source: str, now: datetime | None = None) -> Comment:
    """Add ``actor``'s comment to the post ``post_id``. Commits.

    The comment is "approved" at once when ``actor`` already has an approved comment or may moderate
    the post, else "pending". Raises PermissionDenied unless ``actor`` may comment (signed in, active,
    confirmed); NotFound unless the post is a published, visible post; InvalidInput on ``body`` for an
    empty or too long comment, or when ``actor`` wrote COMMENTS_PER_MINUTE comments in the last minute.
    """
    if not permissions.can_comment(actor):
        if permissions.has_role(actor, "reader"):  # signed in and active: only the confirmation is missing
            raise PermissionDenied(_("Confirm your email address before commenting."))
        raise PermissionDenied(_("Sign in to comment."))
    now = now or _now()
    post = db.session.scalar(
        sa.select(Post).where(Post.id == post_id, Post.kind == "post", Post.status == "published",
                              Post.published_at <= now)
    )
    if post is None:
        raise NotFound(_("There is no such post."))

    # Browsers send line breaks as CRLF but count them as one character; so do we. NUL becomes U+FFFD, as
    # CommonMark says (PostgreSQL cannot store NUL in text: a hostile form would otherwise get a 500).
    source = (source or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd").strip()
    limit = current_app.config["COMMENT_MAX_LENGTH"]
    if not source:
        raise InvalidInput({"body": [_("Write something before posting.")]})
    if len(source) > limit:
        raise InvalidInput({"body": [
            _("A comment can be at most %(max)d characters long; this one has %(length)d.",
              max=limit, length=len(source))
        ]})

    # Lock the author's row so two requests at once cannot both slip under the rate limit. PostgreSQL only:
    # SQLite ignores FOR UPDATE (it is the laptop database, with one writer at a time).
    db.session.execute(sa.select(User.id).where(User.id == actor.id).with_for_update())
    recent = db.session.scalar(
        sa.select(sa.func.count()).select_from(Comment)
        .where(Comment.author_id == actor.id, Comment.created_at > now - RATE_WINDOW)
    )
    if recent >= current_app.config["COMMENTS_PER_MINUTE"]:
        db.session.rollback()
        raise InvalidInput({"body": [_("You are commenting too fast. Wait a minute and try again.")]})

    trusted = permissions.can_moderate(actor, post) or db.session.scalar(
        sa.select(sa.exists().where(Comment.author_id == actor.id, Comment.status == "approved"))
    )
    rendered = _render(source)
    comment = Comment(post_id=post.id, author_id=actor.id, source=source, body_html=rendered.html,
                      sanitizer_version=rendered.version, status="approved" if trusted else "pending",
                      created_at=now, updated_at=now)
    db.session.add(comment)
    db.session.commit()
    if comment.status == "pending":
        notifications.notify_moderation_needed(post, now=now)
    return comment


def moderate(*, actor, comment_ids, action: str) -> int:
    """Approve, reject or delete the comments ``comment_ids`` as one batch. Commits once, with one audit
    event per comment that changed (approving an approved comment changes nothing and is not recorded).
    Returns how many comments changed.

    All or nothing: raises PermissionDenied when ``actor`` may not moderate any one of them, NotFound when
    one does not exist, InvalidInput on ``action`` for an unknown action and on ``comment_ids`` for an
    empty or too large batch.
    """
    require_moderator(actor)
    if action not in MODERATION_ACTIONS:
        raise InvalidInput({"action": [_("Choose approve, reject or delete.")]})
    ids = set()
    for raw in comment_ids or ():
        try:
            ids.add(int(raw))
        except (TypeError, ValueError):
            raise NotFound(_("There is no such comment.")) from None
    if not ids:
        raise InvalidInput({"comment_ids": [_("Select at least one comment.")]})
    if len(ids) > MODERATION_BATCH_MAX:
        raise InvalidInput({"comment_ids": [
            _("Select at most %(max)d comments at a time.", max=MODERATION_BATCH_MAX)
        ]})
    if any(i < 1 or i > _MAX_ID for i in ids):
        raise NotFound(_("There is no such comment."))

    # Lock the rows (PostgreSQL) so two moderators acting at once record true before/after values.
    comments = list(db.session.scalars(
        sa.select(Comment).where(Comment.id.in_(ids))
        .options(joinedload(Comment.post))
        .order_by(Comment.id)
        .with_for_update(of=Comment)
        .execution_options(populate_existing=True)
    ).unique())
    if len(comments) != len(ids):
        db.session.rollback()
        raise NotFound(_("There is no such comment."))
    if not all(permissions.can_moderate(actor, comment.post) for comment in comments):
        db.session.rollback()
        raise PermissionDenied(_("You may only moderate comments on your own posts."))

    changed = 0
    approved = []
    for comment in comments:
        old = comment.status
        if action == "delete":
            db.session.delete(comment)
            after = None
        else:
            if old == _NEW_STATUS[action]:
                continue
            comment.status = _NEW_STATUS[action]
            after = {"status": comment.status}
            if comment.status == "approved" and comment.author_id != getattr(actor, "id", None):
                approved.append(comment)
        audit.record(actor=actor, action=_AUDIT_ACTION[action], target_type="comment", target_id=comment.id,
                     before={"status": old}, after=after)
        changed += 1
    db.session.commit()
    for comment in approved:  # after the commit: the worker must find the comment approved
        notifications.notify_comment_approved(comment)
    return changed
