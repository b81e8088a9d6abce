"""RQ callbacks that count job outcomes in Redis, so /metrics sees work done by workers on any host."""
from __future__ import annotations

RUNS_KEY = "blog:metrics:job_runs"


def _count(job, connection, outcome: str) -> None:
    connection.hincrby(RUNS_KEY, f"{job.origin}:{outcome}", 1)


def succeeded(job, connection, result, *args, **kwargs) -> None:
    _count(job, connection, "success")


def failed(job, connection, exc_type, exc_value, traceback) -> None:
    """Runs after every failed attempt, retried or not."""
    _count(job, connection, "failure")
