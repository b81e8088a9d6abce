"""``flask jobs ...``: the queues, workers, failed jobs and the outbox, for operators."""
from __future__ import annotations

import sys

import click

from blog.exceptions import NotFound
from blog.jobs.queue import QUEUES, REDIS_DOWN, redis_connection
from blog.permissions import OPERATOR
from blog.services import operations

jobs = click.Group("jobs", help="Inspect and repair background jobs.")


def _need_redis() -> None:
    if redis_connection() is None:
        click.echo("Error: REDIS_URL is not set; jobs run inline and there are no queues.", err=True)
        sys.exit(1)


@jobs.command("status")
def status():
    """Queue lengths, workers, failed jobs and the outbox. Exits 1 when Redis is unreachable."""
    view = operations.overview(actor=OPERATOR, failed_limit=10)
    click.echo(f"Outbox: {view.outbox} job(s) waiting for Redis")
    if view.mode == "inline":
        click.echo("Mode: inline (no REDIS_URL): jobs run in the web process")
        return
    if view.redis_error:
        click.echo(f"Error: Redis unreachable: {view.redis_error}", err=True)
        sys.exit(1)
    click.echo(f"{'queue':<10}{'waiting':>9}{'running':>9}{'scheduled':>11}{'failed':>8}")
    for q in view.queues:
        click.echo(f"{q.name:<10}{q.queued:>9}{q.started:>9}{q.scheduled:>11}{q.failed:>8}")
    click.echo(f"Workers: {len(view.workers)}")
    for w in view.workers:
        click.echo(f"  {w.name} [{w.state}] queues={','.join(w.queues)} job={w.current_job or '-'}")
    for job in view.failed:
        click.echo(f"  failed {job.id} {job.func}: {job.summary}")
    for delivery in view.failed_emails:
        click.echo(f"  refused email to {delivery.recipient}: {delivery.error}")


@jobs.command("requeue-failed")
@click.option("--queue", type=click.Choice(QUEUES), help="Only this queue.")
@click.argument("job_ids", nargs=-1)
def requeue_failed(queue, job_ids):
    """Requeue the failed jobs JOB_IDS, or all of them (of --queue)."""
    _need_redis()
    try:
        if job_ids:
            for job_id in job_ids:
                operations.requeue(actor=OPERATOR, job_id=job_id)
            count = len(job_ids)
        else:
            count = operations.requeue_all(actor=OPERATOR, queue=queue)
    except NotFound as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    except REDIS_DOWN as exc:
        click.echo(f"Error: Redis unreachable: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Requeued {count} job(s).")


@jobs.command("purge-failed")
@click.option("--queue", type=click.Choice(QUEUES), help="Only this queue.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_failed(queue, yes):
    """Delete every failed job (of --queue) for good."""
    _need_redis()
    if not yes:
        click.confirm("Delete every failed job for good?", abort=True)
    try:
        count = operations.purge_failed(actor=OPERATOR, queue=queue)
    except REDIS_DOWN as exc:
        click.echo(f"Error: Redis unreachable: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Deleted {count} failed job(s).")


@jobs.command("flush-outbox")
def flush_outbox():
    """Move jobs kept while Redis was down to Redis now. Exits 1 if some are still waiting."""
    _need_redis()
    moved, left = operations.flush(actor=OPERATOR)
    click.echo(f"Moved {moved} job(s) to Redis; {left} still waiting.")
    if left:
        sys.exit(1)
