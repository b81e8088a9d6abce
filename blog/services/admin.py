"""Site administration: the dashboard, finding users, roles, suspension, password resets, the audit log.

Every function takes an explicit ``actor``: a signed-in admin, or :data:`blog.permissions.OPERATOR` for
the command line (audit rows then have no actor). Permission is checked before anything is loaded, so
a non-admin learns nothing, not even whether a user id exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from werkzeug.security import generate_password_hash

from blog import permissions
from blog.exceptions import InvalidInput, NotFound, PermissionDenied
from blog.extensions import db
from blog.i18n import _
from blog.models.audit import AuditEvent
from blog.models.comment import Comment
from blog.models.post import Post
from blog.models.user import ROLES, USER_STATUSES, User, new_session_token
from blog.services import accounts, audit, posts
from blog.services.pagination import MAX_PAGE

USERS_PER_PAGE = 25
AUDIT_PER_PAGE = 50
QUERY_MAX = 100
POST_STATES = ("draft", "scheduled", "published", "archived")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _require_admin(actor) -> None:
    if not permissions.can_administer(actor):
        raise PermissionDenied(_("Only administrators may do this."))


def _check_page(page: int) -> None:
    if page < 1 or page > MAX_PAGE:
        raise NotFound(_("There is no such page."))


def _check_page_exists(pagination) -> None:
    if pagination.page > 1 and pagination.page > (pagination.pages or 1):
        raise NotFound(_("There is no such page."))


# ---- reading ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dashboard:
    users_by_role: dict[str, int] = field(default_factory=dict)
    users_total: int = 0
    suspended: int = 0
    posts_by_state: dict[str, int] = field(default_factory=dict)
    comments_pending: int = 0


def dashboard(*, actor, now: datetime | None = None) -> Dashboard:
    """Counts for the admin home page (three GROUP BY/COUNT queries). Raises PermissionDenied."""
    _require_admin(actor)
    now = now or _now()
    by_role = dict.fromkeys(ROLES, 0)
    suspended = 0
    for role, status, count in db.session.execute(
        sa.select(User.role, User.status, sa.func.count()).group_by(User.role, User.status)
    ):
        by_role[role] = by_role.get(role, 0) + count
        if status == "suspended":
            suspended += count
    # A published post whose time has not come yet is "scheduled"; counted apart from "published".
    scheduled = sa.case((sa.and_(Post.status == "published", Post.published_at > now), 1), else_=0)
    by_state = dict.fromkeys(POST_STATES, 0)
    for status, count, n_scheduled in db.session.execute(
        sa.select(Post.status, sa.func.count(), sa.func.sum(scheduled)).where(Post.kind == "post").group_by(Post.status)
    ):
        by_state[status] = by_state.get(status, 0) + count - (n_scheduled or 0)
        by_state["scheduled"] += n_scheduled or 0
    pending = db.session.scalar(sa.select(sa.func.count()).select_from(Comment).where(Comment.status == "pending"))
    return Dashboard(users_by_role=by_role, users_total=sum(by_role.values()), suspended=suspended,
                     posts_by_state=by_state, comments_pending=pending or 0)


def list_users(*, actor, q: str = "", role: str | None = None, status: str | None = None, page: int = 1,
               per_page: int = USERS_PER_PAGE):
    """Users ordered by username, paginated; ``q`` matches username, display name or email (any case,
    ``%`` and ``_`` taken literally); ``role`` and ``status`` filter when given.

    Raises PermissionDenied, InvalidInput for an unknown role or status, NotFound for a page out of range.
    """
    _require_admin(actor)
    _check_page(page)
    errors = {}
    if role and role not in ROLES:
        errors["role"] = [_("Unknown role.")]
    if status and status not in USER_STATUSES:
        errors["status"] = [_("Unknown status.")]
    if errors:
        raise InvalidInput(errors)
    stmt = sa.select(User)
    q = " ".join((q or "").split())[:QUERY_MAX]
    if q:
        stmt = stmt.where(sa.or_(posts.contains(User.username, q), posts.contains(User.display_name, q),
                                 posts.contains(User.email, q)))
    if role:
        stmt = stmt.where(User.role == role)
    if status:
        stmt = stmt.where(User.status == status)
    stmt = stmt.order_by(sa.func.lower(User.username), User.id)
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False, max_per_page=100)
    _check_page_exists(pagination)
    return pagination


def user_detail(*, actor, user_id: int, history: int = 10) -> tuple[User, list[AuditEvent]]:
    """``(user, latest audit events about them)``. Raises PermissionDenied, NotFound."""
    _require_admin(actor)
    user = accounts.get_user(user_id)
    events = list(db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.target_type == "user", AuditEvent.target_id == user.id)
        .options(joinedload(AuditEvent.actor))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(history)
    ))
    return user, events


def audit_log(*, actor, page: int = 1, per_page: int = AUDIT_PER_PAGE):
    """Audit events newest first, paginated. Raises PermissionDenied, NotFound for a page out of range."""
    _require_admin(actor)
    _check_page(page)
    pagination = audit.recent(page=page, per_page=per_page)
    _check_page_exists(pagination)
    return pagination


# ---- changing ---------------------------------------------------------------------------------------

def _lock(actor, user_id: int) -> tuple[User, set[int]]:
    """Lock the active admins, then the target, for the rest of the transaction: ``(target, admin ids)``.

    Always in this order, so two admins acting on each other at once queue up instead of deadlocking,
    and the second one sees the first one's change (PostgreSQL re-checks locked rows). Without this, two
    admins could demote each other at the same moment and leave the site with none. SQLite needs
    nothing: it serializes writers.
    """
    admin_ids = set(db.session.scalars(
        sa.select(User.id).where(User.role == "admin", User.status == "active").order_by(User.id).with_for_update()
    ))
    if actor.id is not None and actor.id not in admin_ids:  # demoted or suspended since the request began
        db.session.rollback()
        raise PermissionDenied(_("Only administrators may do this."))
    target = db.session.scalar(
        sa.select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    )
    if target is None:
        db.session.rollback()
        raise NotFound(_("There is no such user."))
    return target, admin_ids


def _is_last_admin(target: User, admin_ids: set[int]) -> bool:
    return admin_ids == {target.id}


def change_role(*, actor, user_id: int, role: str) -> User:
    """Give a user another role. Commits, with an audit event; does nothing when the role is unchanged.

    Raises PermissionDenied (not an admin, or one's own role), NotFound, and InvalidInput on ``role``
    for an unknown role or for demoting the last active admin.
    """
    _require_admin(actor)
    if role not in ROLES:
        raise InvalidInput({"role": [_("Choose one of the roles.")]})
    target, admin_ids = _lock(actor, user_id)
    if not permissions.can_change_role(actor, target, role):
        db.session.rollback()
        raise PermissionDenied(_("You cannot change your own role. Ask another administrator."))
    old = target.role
    if old == role:
        db.session.rollback()
        return target
    if old == "admin" and _is_last_admin(target, admin_ids):
        db.session.rollback()
        raise InvalidInput({"role": [
            _("%(username)s is the last active administrator. Make someone else an administrator first.",
              username=target.username)
        ]})
    target.role = role
    audit.record(actor=actor, action="user.role_changed", target_type="user", target_id=target.id,
                 before={"role": old}, after={"role": role})
    db.session.commit()
    return target


def _set_status(actor, user_id: int, status: str, action: str) -> User:
    _require_admin(actor)
    target, admin_ids = _lock(actor, user_id)
    if not permissions.can_change_status(actor, target):
        db.session.rollback()
        raise PermissionDenied(_("You cannot suspend or reinstate yourself. Ask another administrator."))
    old = target.status
    if old == status:
        db.session.rollback()
        return target
    if status == "suspended" and _is_last_admin(target, admin_ids):
        db.session.rollback()
        raise InvalidInput({"_": [
            _("%(username)s is the last active administrator and cannot be suspended.", username=target.username)
        ]})
    target.status = status
    if status == "suspended":
        target.session_token = new_session_token()  # every session and remember-me cookie ends now
    audit.record(actor=actor, action=action, target_type="user", target_id=target.id,
                 before={"status": old}, after={"status": status})
    db.session.commit()
    return target


def suspend(*, actor, user_id: int) -> User:
    """Suspend a user: they cannot sign in and their sessions end at once. Commits, with an audit event;
    does nothing when already suspended.

    Raises PermissionDenied (not an admin, or oneself), NotFound, InvalidInput for the last active admin.
    """
    return _set_status(actor, user_id, "suspended", "user.suspended")


def reinstate(*, actor, user_id: int) -> User:
    """Let a suspended user sign in again. Commits, with an audit event; does nothing when already active.

    Raises PermissionDenied (not an admin, or oneself), NotFound.
    """
    return _set_status(actor, user_id, "active", "user.reinstated")


def set_password(*, actor, user_id: int, password: str) -> User:
    """Set a user's password (the operator's way back in); their sessions end. Commits, with an audit
    event that records no hashes.

    Raises PermissionDenied (not an admin, or oneself: use the settings page), NotFound, and InvalidInput
    on ``password`` for a weak password.
    """
    _require_admin(actor)
    target, _admin_ids = _lock(actor, user_id)
    if actor.id == target.id:
        db.session.rollback()
        raise PermissionDenied(_("Change your own password in your settings."))
    problem = accounts.password_problem(password, username=target.username, email=target.email)
    if problem:
        db.session.rollback()
        raise InvalidInput({"password": [problem]})
    target.password_hash = generate_password_hash(password)
    target.session_token = new_session_token()
    audit.record(actor=actor, action="user.password_reset", target_type="user", target_id=target.id)
    db.session.commit()
    return target
