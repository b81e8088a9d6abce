"""What the queues hold and who works on them, as plain data for the admin page, the CLI and /readyz."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from blog.jobs.queue import QUEUES, get_queue, redis_connection

HEARTBEAT_FRESH = timedelta(seconds=120)


@dataclass(frozen=True)
class QueueStats:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    queues: list[str]
    current_job: str | None
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    summary: str
    ended_at: datetime | None


def queue_stats() -> list[QueueStats]:
    stats = []
    for name in QUEUES:
        queue = get_queue(name)
        stats.append(QueueStats(name, queue.count, queue.started_job_registry.count,
                                queue.scheduled_job_registry.count, queue.failed_job_registry.count))
    return stats


def workers() -> list[WorkerInfo]:
    result = []
    for worker in Worker.all(connection=redis_connection()):
        job = worker.get_current_job()
        result.append(WorkerInfo(worker.name, worker.get_state(), worker.queue_names(),
                                 job.func_name if job else None, worker.last_heartbeat))
    return sorted(result, key=lambda w: w.name)


def live_workers(now: datetime | None = None) -> int:
    """Workers whose heartbeat is recent."""
    now = now or datetime.now(timezone.utc)
    return sum(1 for w in workers() if w.last_heartbeat and now - _aware(w.last_heartbeat) <= HEARTBEAT_FRESH)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _summary(job: Job) -> str:
    result = job.latest_result()
    text = ((result.exc_string if result else None) or "").strip()
    last = text.splitlines()[-1] if text else ""
    return last[:300]


def failed_jobs(limit: int = 50) -> list[FailedJob]:
    """The most recent failures across the queues, newest first."""
    jobs = []
    for name in QUEUES:
        registry = get_queue(name).failed_job_registry
        ids = registry.get_job_ids(0, limit - 1, desc=True)
        for job in Job.fetch_many(ids, connection=redis_connection()):
            if job is not None:
                jobs.append(FailedJob(job.id, name, job.func_name or "?", _summary(job), job.ended_at))
    jobs.sort(key=lambda j: j.ended_at or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
    return jobs[:limit]


def _registry_of(job_id: str):
    for name in QUEUES:
        registry = get_queue(name).failed_job_registry
        if job_id in registry.get_job_ids():
            return registry
    return None


def requeue_failed(job_id: str) -> bool:
    """Put a failed job back on its queue; False when no failed job has this id."""
    registry = _registry_of(job_id)
    if registry is None:
        return False
    try:
        registry.requeue(job_id)
    except NoSuchJobError:
        return False
    return True


def delete_failed(job_id: str) -> bool:
    """Remove a failed job for good; False when no failed job has this id."""
    registry = _registry_of(job_id)
    if registry is None:
        return False
    registry.remove(job_id, delete_job=True)
    return True


def failed_job_ids(queue: str | None = None) -> list[str]:
    names = [queue] if queue else list(QUEUES)
    return [job_id for name in names for job_id in get_queue(name).failed_job_registry.get_job_ids()]
