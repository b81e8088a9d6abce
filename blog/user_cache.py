"""A short-lived copy of users' rows in Redis, so that a signed-in request needs no SQL to know its reader.

Every signed-in request loads its user (Flask-Login's ``user_loader``). From the database that is a
connection checkout, a query and the ORM's row handling: the largest cost of a signed-in page served
from a cached shell (blog/views/shells.py). This module keeps each user's columns in Redis for ``TTL``
seconds and rebuilds the ORM object from them without a query.

Keys and values
    ``user-row:<id>`` holds ``{"generation": <n>, "columns": {...}, "pending_comments": <bool>}``: every
    column of ``users`` but the secrets (``SECRET_COLUMNS``), which load from the database if something
    reads them, and whether the user has comments waiting for moderation (a post page shows a reader
    their own; most readers have none, and then the page asks nothing of the database).
    ``user-row:generation`` is a counter.

A stored row is used only while its generation equals the current one, and every commit that writes a
user or a comment (through the ORM or with a statement on ``users`` or ``comments``) starts a new
generation: suspending a user, changing a role or rotating the session token (signing out everywhere, a
new password) takes effect on the very next request, in every process. A request that misses reads the generation before it reads the
database, so a row read before a change can never be stored as current after it.

Redis failing never fails a request: the user loads from the database, and the cache is skipped for a
few seconds. A new generation that cannot reach Redis is logged; stored rows then live at most ``TTL``.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, make_transient_to_detached

from blog import cache_state, write_tracking
from blog.cache_state import CacheState
from blog.extensions import db
from blog.models.comment import Comment
from blog.models.user import User

PREFIX = "user-row:"
GENERATION_KEY = PREFIX + "generation"
SECRET_COLUMNS = frozenset({"password_hash", "totp_secret", "totp_last_step"})
_EXTENSION = "blog.user_cache"
_PENDING = "user_rows_changed"
_NO_PENDING_COMMENTS = "_cached_without_pending_comments"  # set on users built from a stored row
TABLES = frozenset({"users", "comments"})
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    ttl = int(app.config.get("USER_CACHE_TTL", 60))
    app.extensions[_EXTENSION] = CacheState("user cache", cache_state.client(url) if url and ttl > 0 else None,
                                            ttl, log)


def _state() -> CacheState | None:
    try:
        return current_app.extensions.get(_EXTENSION)
    except RuntimeError:  # no app context: a session used outside the app caches nothing
        return None


_COLUMNS = [(attr.key, attr.columns[0].type) for attr in sa.inspect(User).column_attrs
            if attr.key not in SECRET_COLUMNS]
_DATETIMES = frozenset(key for key, type_ in _COLUMNS if getattr(type_, "python_type", None) is datetime
                       or isinstance(type_, sa.types.TypeDecorator) and type_.impl.python_type is datetime)


def _encode(user: User) -> dict:
    values = {}
    for key, _type in _COLUMNS:
        value = getattr(user, key)
        values[key] = value.isoformat() if key in _DATETIMES and value is not None else value
    return values


def _decode(entry: dict) -> User:
    """A persistent User in the current session, from a stored entry: no query."""
    user = User()
    for key, _type in _COLUMNS:
        value = entry["columns"][key]
        setattr(user, key, datetime.fromisoformat(value) if key in _DATETIMES and value is not None else value)
    make_transient_to_detached(user)  # history reset, as if loaded; the secrets are left unloaded
    user = db.session.merge(user, load=False)
    setattr(user, _NO_PENDING_COMMENTS, not entry["pending_comments"])
    return user


def has_no_pending_comments(user) -> bool:
    """True when the user's cached row says they have no comment waiting for moderation (no query);
    False when they have one, or nobody knows without asking the database."""
    return getattr(user, _NO_PENDING_COMMENTS, False)


def _has_pending_comments(user_id: int) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(Comment.author_id == user_id,
                                                               Comment.status == "pending"))))


def get(user_id: int) -> User | None:
    """The user with this id: from the cached row when it is current, else from the database (and stored)."""
    state = _state()
    if state is None or not state.usable():
        return db.session.get(User, user_id)
    if (user := db.session.identity_map.get(sa.inspect(User).identity_key_from_primary_key((user_id,)))):
        return user
    key = f"{PREFIX}{user_id}"
    try:
        generation, stored = state.redis.mget(GENERATION_KEY, key)
    except Exception as exc:  # noqa: BLE001 - any Redis trouble means "ask the database"
        state.failed("lookup", exc)
        return db.session.get(User, user_id)
    if stored is not None and generation is not None:
        try:
            entry = json.loads(stored)
            if str(entry["generation"]).encode() == generation:
                return _decode(entry)
        except Exception:  # noqa: BLE001 - a row another release wrote (a column added...): load it anew
            log.warning("user cache: could not use the stored row of user %s; loading it", user_id, exc_info=True)
    user = db.session.get(User, user_id)
    if user is not None and generation is not None:
        try:
            value = json.dumps({"generation": int(generation), "columns": _encode(user),
                                "pending_comments": _has_pending_comments(user_id)}, separators=(",", ":"))
            state.redis.set(key, value, ex=state.ttl)
        except Exception as exc:  # noqa: BLE001
            state.failed("store", exc)
    elif user is not None:  # no generation yet: start one, and store on the next request
        _new_generation(state)
    return user


def _new_generation(state: CacheState) -> None:
    try:
        state.redis.incr(GENERATION_KEY)
    except Exception as exc:  # noqa: BLE001
        state.failed("new generation", exc)
        log.error("user cache: could not start a new generation; stored user rows may be used for up to %ss",
                  state.ttl)


# ---- noticing user changes ---------------------------------------------------------------------

@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    if session.info.get(_PENDING):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if obj in session.new or obj in session.deleted:
            changed = isinstance(obj, (User, Comment))
        elif isinstance(obj, User):
            changed = session.is_modified(obj)
        else:
            changed = isinstance(obj, Comment) and write_tracking.changed(obj, ("status", "author_id"))
        if changed:
            session.info[_PENDING] = True
            return


@event.listens_for(Session, "after_commit")
def _new_generation_after_commit(session: Session) -> None:
    changed = session.info.pop(_PENDING, False)
    if changed or write_tracking.tables_written(session) & TABLES:
        state = _state()
        if state is not None and state.redis is not None:
            _new_generation(state)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_PENDING, None)
