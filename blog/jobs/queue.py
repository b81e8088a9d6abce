"""The job queue: one explicit Redis connection and named queues in priority order.

Without ``REDIS_URL`` (the embedded default) jobs run inline, in the calling process, and a failure
is logged instead of raised. With ``REDIS_URL`` every job goes to Redis for ``worker.py``.
Callers enqueue after their commit, passing ids or ready-made strings, never ORM objects.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import Flask, current_app
from redis import Redis
from rq import Queue

QUEUES = ("emails", "media", "default")  # highest priority first
_REDIS_KEY = "blog.redis"

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions[_REDIS_KEY] = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2) if url else None


def redis_connection() -> Redis | None:
    """The app's Redis connection, or ``None`` on the embedded default."""
    return current_app.extensions.get(_REDIS_KEY)


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; expected one of {QUEUES}")
    connection = redis_connection()
    if connection is None:
        raise RuntimeError("no REDIS_URL configured: jobs run inline")
    return Queue(name, connection=connection)


def enqueue(func: Callable[..., Any], *args: Any, queue: str = "default", **kwargs: Any) -> str | None:
    """Run ``func(*args, **kwargs)`` in a worker (or inline on the embedded default).

    Returns the RQ job id, or ``None`` when the job ran inline.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; expected one of {QUEUES}")
    if redis_connection() is None:
        try:
            func(*args, **kwargs)
        except Exception:  # inline jobs must not break the request that asked for them
            log.exception("inline job %s failed", getattr(func, "__qualname__", func))
        return None
    return get_queue(queue).enqueue(func, *args, **kwargs).id
