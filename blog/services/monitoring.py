"""Values for /metrics that are read when Prometheus scrapes: queues, job outcomes, emails, media."""
from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import current_app
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY

from blog.extensions import db
from blog.jobs import monitor
from blog.jobs.callbacks import RUNS_KEY
from blog.jobs.queue import REDIS_DOWN, redis_connection
from blog.models.jobs import EmailDelivery
from blog.models.media import Media


def token_accepted(authorization: str | None) -> bool:
    """``/metrics`` is off without ``METRICS_TOKEN``; with it, callers send ``Authorization: Bearer <token>``."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return False
    scheme, _sep, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class _ScrapeTime:
    """A collector that asks Redis and the database at scrape time."""

    def collect(self):
        emails = CounterMetricFamily("blog_emails", "Emails by delivery status", labels=["status"])
        for status, count in db.session.execute(
                sa.select(EmailDelivery.status, sa.func.count()).group_by(EmailDelivery.status)):
            emails.add_metric([status], count)
        yield emails
        media = GaugeMetricFamily("blog_media", "Media by processing status", labels=["status"])
        for status, count in db.session.execute(sa.select(Media.status, sa.func.count()).group_by(Media.status)):
            media.add_metric([status], count)
        yield media
        connection = redis_connection()
        up = GaugeMetricFamily("blog_redis_up", "Whether Redis answered this scrape")
        if connection is None:
            return
        try:
            stats = monitor.queue_stats()
            runs = connection.hgetall(RUNS_KEY)
            workers = monitor.live_workers()
        except REDIS_DOWN:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("blog_queue_jobs", "Jobs in each queue by state", labels=["queue", "state"])
        for s in stats:
            for state in ("queued", "started", "scheduled", "failed"):
                depth.add_metric([s.name, state], getattr(s, state))
        yield depth
        outcomes = CounterMetricFamily("blog_job_runs", "Job runs by queue and outcome (each attempt counts)",
                                       labels=["queue", "outcome"])
        for key, count in runs.items():
            queue, _sep, outcome = key.decode().partition(":")
            outcomes.add_metric([queue, outcome], int(count))
        yield outcomes
        alive = GaugeMetricFamily("blog_workers_alive", "Workers with a recent heartbeat")
        alive.add_metric([], workers)
        yield alive


def exposition() -> bytes:
    """The Prometheus text format: this process's (or every gunicorn worker's) counters plus scrape-time values."""
    if current_app.config.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process_metrics = generate_latest(registry)
    else:
        process_metrics = generate_latest(REGISTRY)
    scrape = CollectorRegistry()
    scrape.register(_ScrapeTime())
    return process_metrics + generate_latest(scrape)
