"""Roles and pure predicates: "may this user do that to this object?".

Services enforce these (authoritative); templates call them only to hide buttons.
"""
from __future__ import annotations

ROLE_RANK = {"reader": 0, "author": 1, "editor": 2, "admin": 3}


def has_role(user, role: str) -> bool:
    """True when ``user`` is signed in, active and holds ``role`` or a higher one."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def can_view_post(user, post, *, now) -> bool:
    """Readers see published posts whose time has come; staff also see what they may edit."""
    if post.status == "published" and post.published_at is not None and post.published_at <= now:
        return True
    return can_edit_post(user, post)


def can_edit_post(user, post) -> bool:
    if has_role(user, "editor"):
        return True
    return has_role(user, "author") and post.author_id == user.id and post.kind == "post"
