"""The job queue: one explicit Redis connection and named queues in priority order.

Without ``REDIS_URL`` (the embedded default) jobs run inline, in the calling process, and a failure
is logged instead of raised. With ``REDIS_URL`` every job goes to Redis for ``worker.py``. When Redis
cannot be reached, the job is written to the ``job_outbox`` table instead of being dropped; it is
moved to Redis by the next successful enqueue, by the worker's sweep, or by ``flask jobs flush-outbox``.

Callers enqueue after their commit, passing ids or ready-made strings, never ORM objects.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from flask import Flask, current_app
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Callback, Queue, Retry

from blog import metrics
from blog.extensions import db
from blog.jobs import callbacks
from blog.models.jobs import OutboxJob
from blog.observability import current_request_id

QUEUES = ("emails", "media", "default")  # highest priority first
JOB_PACKAGE = "blog.jobs."
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
_REDIS_KEY = "blog.redis"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enqueued:
    """What happened to a job: ``queued`` (in Redis), ``inline`` (ran here), ``deferred`` (in the outbox)."""

    status: str
    job_id: str | None = None

    @property
    def deferred(self) -> bool:
        return self.status == "deferred"


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions[_REDIS_KEY] = (
        Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30) if url else None
    )


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


def _path(func: Callable) -> str:
    path = f"{func.__module__}:{func.__qualname__}"
    if not func.__module__.startswith(JOB_PACKAGE):
        raise ValueError(f"{path} is not a job: jobs live in the {JOB_PACKAGE[:-1]} package")
    return path


def _resolve(path: str) -> Callable:
    module, _sep, name = path.partition(":")
    if not module.startswith(JOB_PACKAGE):  # the outbox never imports anything else
        raise ValueError(f"refusing to run {path}: not a job")
    return getattr(importlib.import_module(module), name)


def _to_redis(func: Callable, args: list, queue: str, options: dict) -> str:
    retry = options.get("retry_intervals")
    job = get_queue(queue).enqueue(
        func, *args,
        retry=Retry(max=len(retry), interval=list(retry)) if retry else None,
        job_timeout=options.get("timeout"),
        failure_ttl=7 * 24 * 3600,
        meta={"request_id": options.get("request_id")} if options.get("request_id") else None,
        on_success=Callback(callbacks.succeeded),
        on_failure=Callback(callbacks.failed),
    )
    metrics.JOBS_ENQUEUED.labels(queue=queue).inc()
    return job.id


def enqueue(func: Callable[..., Any], *args: Any, queue: str = "default", retry_intervals: list[int] | None = None,
            timeout: int | None = None) -> Enqueued:
    """Run ``func(*args)`` in a worker (inline on the embedded default).

    ``retry_intervals`` (seconds) retries a failing job that many times. If Redis is unreachable the
    job goes to the outbox (committed at once) and the result says ``deferred``; nothing is dropped.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; expected one of {QUEUES}")
    path = _path(func)
    if redis_connection() is None:
        try:
            func(*args)
        except Exception:  # inline jobs must not break the request that asked for them
            log.exception("inline job %s failed", path)
        return Enqueued("inline")
    options = {"retry_intervals": list(retry_intervals or []), "timeout": timeout,
               "request_id": current_request_id()}
    try:
        job_id = _to_redis(func, list(args), queue, options)
    except REDIS_DOWN as exc:
        db.session.add(OutboxJob(func=path, queue=queue, args=list(args), options=options,
                                 last_error=f"{type(exc).__name__}: {exc}"[:500]))
        db.session.commit()
        log.warning("Redis unreachable; job %s kept in the outbox (%s)", path, exc)
        return Enqueued("deferred")
    if outbox_size():
        flush_outbox()
    return Enqueued("queued", job_id)


def outbox_size() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) or 0


def flush_outbox(limit: int = 500) -> tuple[int, int]:
    """Move outbox jobs to Redis, oldest first; ``(moved, left)``. Stops at the first Redis error.

    Each job is deleted in the same commit that follows its enqueue; a crash in between can enqueue
    a job twice, which is why jobs are idempotent. Rows are locked (skipping locked ones) so two
    flushers do not move the same job.
    """
    if redis_connection() is None:
        return 0, outbox_size()
    moved = 0
    rows = list(db.session.scalars(
        sa.select(OutboxJob).order_by(OutboxJob.id).limit(limit).with_for_update(skip_locked=True)
    ))
    for row in rows:
        try:
            _to_redis(_resolve(row.func), list(row.args), row.queue, dict(row.options))
        except REDIS_DOWN as exc:
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]
            break
        db.session.delete(row)
        moved += 1
    db.session.commit()
    if moved:
        log.info("moved %d job(s) from the outbox to Redis", moved)
    return moved, outbox_size()
