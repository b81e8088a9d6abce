"""Roles and pure predicates: "may this user do that to this object?".

Services enforce these (authoritative); templates call them only to hide buttons. Every predicate
accepts an anonymous or inactive user and answers False for it.
"""
from __future__ import annotations

ROLE_RANK = {"reader": 0, "author": 1, "editor": 2, "admin": 3}


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def has_role(user, role: str) -> bool:
    """True when ``user`` is signed in, active and holds ``role`` or a higher one."""
    return _signed_in(user) and ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def can_view_post(user, post, *, now) -> bool:
    """Readers see published posts whose time has come; staff also see what they may edit."""
    if post.status == "published" and post.published_at is not None and post.published_at <= now:
        return True
    return can_edit_post(user, post)


def can_edit_post(user, post) -> bool:
    if has_role(user, "editor"):
        return True
    return has_role(user, "author") and post.author_id == user.id and post.kind == "post"


def can_publish(user) -> bool:
    """Authors and above with a confirmed email address."""
    return has_role(user, "author") and user.is_confirmed


def can_write(user, kind: str = "post") -> bool:
    """Start a new post (authors and above) or page (editors and above)."""
    return has_role(user, "editor" if kind == "page" else "author")


def can_publish_post(user, post) -> bool:
    """Publish, schedule, unpublish or archive ``post``: editors any, confirmed authors their own."""
    return can_edit_post(user, post) and can_publish(user)


def can_delete_post(user, post) -> bool:
    return can_edit_post(user, post)


def can_see_all_posts(user) -> bool:
    """The studio's "All posts" view; authors see only their own."""
    return has_role(user, "editor")


def can_comment(user) -> bool:
    """Any signed-in, active user with a confirmed email address."""
    return _signed_in(user) and user.is_confirmed


def can_moderate(user, post=None) -> bool:
    """Editors and admins moderate everything; an author moderates comments on their own posts."""
    if has_role(user, "editor"):
        return True
    return post is not None and has_role(user, "author") and post.author_id == user.id


def can_administer(user) -> bool:
    """The admin area: dashboard, users, roles, audit log, jobs."""
    return has_role(user, "admin")


def can_change_role(actor, target, new_role: str) -> bool:
    """Admins change anyone's role but their own (so nobody locks themselves out by accident)."""
    return can_administer(actor) and actor.id != target.id and new_role in ROLE_RANK


def can_change_status(actor, target) -> bool:
    """Admins suspend and reinstate anyone but themselves."""
    return can_administer(actor) and actor.id != target.id


class _Operator:
    """The person at the command line: acts with admin rights, recorded in the audit log without a user."""

    id = None
    role = "admin"
    username = "(operator)"
    is_authenticated = True
    is_active = True
    is_confirmed = True


OPERATOR = _Operator()
