"""Prometheus metrics. In-process counters use prometheus_client's multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set (gunicorn.conf.py sets it), so every gunicorn worker's counts add up.

Defines the metric objects only; the /metrics view collects them together with values read at scrape
time (queue depth, job outcomes counted in Redis, email and media states from the database).
"""
from prometheus_client import Counter, Histogram

REQUESTS = Counter("blog_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "blog_http_request_duration_seconds", "Time to answer an HTTP request", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
JOBS_ENQUEUED = Counter("blog_jobs_enqueued_total", "Jobs sent to Redis by this app", ["queue"])
