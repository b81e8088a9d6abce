"""The anonymous page cache: rendered reader pages kept in Redis, checked against a content version.

Keys and values
    ``page:<locale>:<path>?<allowed args>`` holds ``<version>\\0<etag>\\0<content type>\\0<body>``.
    ``content:version`` is a counter; ``content:next-change`` the time the next scheduled post goes live.

A stored page is served only while its version equals the current one. Every commit that changes what
readers can see (posts, tags, comments, media, authors' public profiles; the related-posts job) bumps
the version, so no reader sees a page older than the last change, and no key is ever scanned or
deleted. Scheduled posts go live without a write, so the first request after ``content:next-change``
bumps the version itself. One lookup costs one Redis round trip (``MGET``).

Redis failing never fails a page: lookups and stores are skipped for a few seconds and the page is
rendered as usual. A bump that cannot reach Redis is logged; stored pages then live at most ``TTL``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from blog import cache_state, write_tracking
from blog.cache_state import CacheState
from blog.extensions import db

VERSION_KEY = "content:version"
NEXT_CHANGE_KEY = "content:next-change"
PAGE_PREFIX = "page:"
RATION_PREFIX = "page-ration:"  # + the minute: how many rationed pages were stored in it
_EXTENSION = "blog.page_cache"

# Tables whose rows readers see, when written by statements rather than through ORM objects.
CONTENT_TABLES = frozenset({"posts", "post_tags", "tags", "comments", "media", "slug_redirects", "related_posts"})
# What readers see of a user: a change to anything else (last sign-in, password) is not a content change.
PUBLIC_USER_FIELDS = ("username", "display_name", "bio_html", "avatar_id", "status")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedPage:
    etag: str
    content_type: str
    body: bytes


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL") if app.config.get("PAGE_CACHE") else None
    app.extensions[_EXTENSION] = CacheState("page cache", cache_state.client(url) if url else None,
                                            int(app.config.get("PAGE_CACHE_TTL", 300)), log)


def _state() -> CacheState | None:
    return current_app.extensions.get(_EXTENSION)


def enabled() -> bool:
    state = _state()
    return state is not None and state.usable()


def _minute() -> int:
    return int(time.time() // 60)


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


def lookup(key: str) -> tuple[CachedPage | None, bytes | None]:
    """``(page, version)``: the stored page when it is current, and the version to store a render under."""
    state = _state()
    if state is None or not state.usable():
        return None, None
    try:
        version, next_change, stored = state.redis.mget(VERSION_KEY, NEXT_CHANGE_KEY, PAGE_PREFIX + key)
        if version is None or (next_change and float(next_change) <= _now()):
            version, stored = bump(), None
    except Exception as exc:  # noqa: BLE001 - any Redis trouble means "render it"
        state.failed("lookup", exc)
        return None, None
    if version is None:
        return None, None
    return _current(stored, version), version


def _current(stored: bytes | None, version: bytes) -> CachedPage | None:
    """The page in a stored value, if it was stored under ``version``."""
    if stored is None:
        return None
    stored_version, etag, content_type, body = stored.split(b"\0", 3)
    if stored_version != version:
        return None
    return CachedPage(etag.decode(), content_type.decode(), body)


def peek(app: Flask, key: str) -> CachedPage | None:
    """The stored page when it is current and nothing is due to change, without an app context (the
    WSGI layer in blog/views/fast_hits.py asks before Flask runs). Anything else, including Redis
    trouble, is ``None``: the request then goes through Flask, which renders, stores or bumps."""
    state = app.extensions.get(_EXTENSION)
    if state is None or not state.usable():
        return None
    try:
        version, next_change, stored = state.redis.mget(VERSION_KEY, NEXT_CHANGE_KEY, PAGE_PREFIX + key)
    except Exception as exc:  # noqa: BLE001
        state.failed("lookup", exc)
        return None
    if version is None or (next_change and float(next_change) <= _now()):
        return None
    return _current(stored, version)


def store(key: str, version: bytes, page: CachedPage, *, rationed: bool = False) -> None:
    """Keep ``page`` under ``key`` for the TTL. ``rationed``: only while this minute's ration of new
    copies (SEARCH_CACHE_PER_MINUTE) lasts, for keys visitors choose freely."""
    state = _state()
    if state is None or not state.usable():
        return
    value = b"\0".join((version, page.etag.encode(), page.content_type.encode(), page.body))
    try:
        if rationed:
            ration_key = f"{RATION_PREFIX}{_minute()}"
            used, _ = state.redis.pipeline().incr(ration_key).expire(ration_key, 120).execute()
            if used > current_app.config.get("SEARCH_CACHE_PER_MINUTE", 300):
                return
        state.redis.set(PAGE_PREFIX + key, value, ex=state.ttl)
    except Exception as exc:  # noqa: BLE001
        state.failed("store", exc)


def _next_scheduled() -> float | None:
    from blog.models.post import Post  # models import this module's session hooks indirectly

    # Its own connection: this runs after a commit, when the session may not emit SQL.
    with db.engine.connect() as connection:
        when = connection.scalar(sa.select(sa.func.min(Post.published_at)).where(
            Post.status == "published", Post.published_at > datetime.now(timezone.utc)))
    if when is not None and when.tzinfo is None:  # SQLite returns the aggregate as a naive UTC value
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp() if when else None


def bump() -> bytes | None:
    """Start a new content version (every stored page becomes stale). Returns it, or None without Redis."""
    state = _state()
    if state is None or state.redis is None:
        return None
    try:
        next_change = _next_scheduled()
        with state.redis.pipeline() as pipe:
            pipe.incr(VERSION_KEY)
            if next_change:
                pipe.set(NEXT_CHANGE_KEY, repr(next_change))
            else:
                pipe.delete(NEXT_CHANGE_KEY)
            version = pipe.execute()[0]
        return str(version).encode()
    except Exception as exc:  # noqa: BLE001
        state.failed("bump", exc)
        log.error("page cache: could not start a new content version; stored pages may be served for up to "
                  "%ss", state.ttl)
        return None


# ---- noticing content changes ------------------------------------------------------------------

def _is_content(obj) -> bool:
    from blog.models.comment import Comment
    from blog.models.media import Media
    from blog.models.post import Post, SlugRedirect, Tag
    from blog.models.user import User

    if isinstance(obj, (Post, Tag, Comment, Media, SlugRedirect)):
        return True
    if isinstance(obj, User):
        return write_tracking.changed(obj, PUBLIC_USER_FIELDS)
    return False


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    if session.info.get("content_changed"):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _is_content(obj) and (obj in session.new or obj in session.deleted or session.is_modified(obj)):
            session.info["content_changed"] = True
            return


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    # Statement writes (the related-posts job, a restore) bypass the flush: their tables count too.
    flushed = session.info.pop("content_changed", False)
    if flushed or write_tracking.tables_written(session) & CONTENT_TABLES:
        try:
            if _state() is not None:
                bump()
        except RuntimeError:  # no app context (a session used outside the app): nothing is cached there
            pass


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop("content_changed", None)

