"""The operator's view of background work: queues, workers, failed jobs, the outbox, failed emails."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from blog import permissions
from blog.exceptions import NotFound, PermissionDenied
from blog.extensions import db
from blog.i18n import _
from blog.jobs import monitor
from blog.jobs.queue import QUEUES, REDIS_DOWN, flush_outbox, outbox_size, redis_connection
from blog.models.jobs import EmailDelivery
from blog.services import audit


@dataclass
class Overview:
    mode: str  # "redis" or "inline"
    redis_error: str | None = None
    queues: list = field(default_factory=list)
    workers: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    outbox: int = 0
    failed_emails: list = field(default_factory=list)


def _require(actor) -> None:
    if not permissions.can_administer(actor):
        raise PermissionDenied(_("Only administrators may do this."))


def overview(*, actor, failed_limit: int = 50) -> Overview:
    """Everything the jobs page shows. Redis being down is reported, not raised."""
    _require(actor)
    result = Overview(mode="redis" if redis_connection() is not None else "inline", outbox=outbox_size())
    result.failed_emails = list(db.session.scalars(
        sa.select(EmailDelivery).where(EmailDelivery.status == "failed")
        .order_by(EmailDelivery.created_at.desc()).limit(20)))
    if result.mode == "redis":
        try:
            result.queues = monitor.queue_stats()
            result.workers = monitor.workers()
            result.failed = monitor.failed_jobs(failed_limit)
        except REDIS_DOWN as exc:
            result.redis_error = f"{type(exc).__name__}: {exc}"
    return result


def _record(actor, action: str, job_id: str) -> None:
    audit.record(actor=actor, action=action, target_type="job", target_id=None, after={"job_id": job_id})
    db.session.commit()


def requeue(*, actor, job_id: str) -> None:
    """Put one failed job back on its queue, audited. Raises NotFound."""
    _require(actor)
    if not monitor.requeue_failed(job_id):
        raise NotFound(_("There is no failed job with this id."))
    _record(actor, "job.requeued", job_id)


def delete(*, actor, job_id: str) -> None:
    """Delete one failed job for good, audited. Raises NotFound."""
    _require(actor)
    if not monitor.delete_failed(job_id):
        raise NotFound(_("There is no failed job with this id."))
    _record(actor, "job.deleted", job_id)


def _each_failed(actor, queue: str | None, act, action: str) -> int:
    """Apply ``act`` to every failed job (of one queue), auditing each one it succeeded on."""
    _require(actor)
    done = [job_id for job_id in monitor.failed_job_ids(queue) if act(job_id)]
    for job_id in done:
        audit.record(actor=actor, action=action, target_type="job", target_id=None, after={"job_id": job_id})
    db.session.commit()
    return len(done)


def requeue_all(*, actor, queue: str | None = None) -> int:
    """Requeue every failed job (of one queue); returns how many. Audited per job."""
    return _each_failed(actor, queue, monitor.requeue_failed, "job.requeued")


def purge_failed(*, actor, queue: str | None = None) -> int:
    """Delete every failed job (of one queue); returns how many. Audited per job."""
    return _each_failed(actor, queue, monitor.delete_failed, "job.deleted")


def flush(*, actor) -> tuple[int, int]:
    """Move outbox jobs to Redis now: ``(moved, left)``."""
    _require(actor)
    return flush_outbox()


def known_queue(name: str | None) -> bool:
    return name is None or name in QUEUES
