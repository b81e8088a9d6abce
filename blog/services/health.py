"""Readiness: can this process reach what it depends on?

Checks are fatal (the process cannot serve without them) or advisory (reported, never a 503).
"""
from __future__ import annotations

import sqlalchemy as sa

from blog.extensions import db
from blog.jobs import monitor
from blog.jobs.queue import redis_connection
from blog.storage import get_storage


ADVISORY = frozenset({"workers"})


def readiness() -> dict[str, dict]:
    """``{dependency: {"ok": bool, "error"?: str}}`` for the database, Redis (when set), storage and,
    as advisory, whether a worker has a recent heartbeat."""
    results: dict[str, dict] = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        results["database"] = {"ok": True}
    except Exception as exc:  # any driver error means "not ready"
        db.session.rollback()
        results["database"] = {"ok": False, "error": type(exc).__name__}
    connection = redis_connection()
    if connection is not None:
        try:
            connection.ping()
            results["redis"] = {"ok": True}
        except Exception as exc:
            results["redis"] = {"ok": False, "error": type(exc).__name__}
        else:
            try:
                alive = monitor.live_workers()
                results["workers"] = {"ok": alive > 0, "alive": alive}
            except Exception as exc:
                results["workers"] = {"ok": False, "error": type(exc).__name__}
    try:
        get_storage().check()
        results["storage"] = {"ok": True}
    except Exception as exc:
        results["storage"] = {"ok": False, "error": type(exc).__name__}
    return results
