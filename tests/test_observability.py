"""Request ids, structured logs, request ids carried into jobs, and running behind a proxy."""
import json
import logging

from flask import request as flask_request
from rq import Queue

from blog.jobs import diagnostics
from blog.jobs.queue import enqueue
from blog.observability import ContextFilter, JsonFormatter


def test_request_id_is_generated_or_taken_from_the_proxy(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    forged = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"}).headers["X-Request-ID"]
    assert forged != "<script>" and len(forged) == 32


def test_json_log_lines_carry_the_request_context(make_app):
    app = make_app(LOG_REQUESTS=True, LOG_FORMAT="json")
    lines = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Capture()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("blog.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        app.test_client().get("/healthz", headers={"X-Request-ID": "req-42"})
    finally:
        logger.removeHandler(handler)
    entry = json.loads(lines[-1])
    assert entry["logger"] == "blog.request" and entry["level"] == "INFO"
    assert entry["request_id"] == "req-42" and entry["path"] == "/healthz" and entry["status"] == 200
    assert entry["duration_ms"] >= 0 and entry["time"].endswith("+00:00")


def test_jobs_enqueued_by_a_request_carry_its_id(make_app, app, redis, redis_url):
    queued = make_app(REDIS_URL=redis_url)

    @queued.get("/enqueue-for-test")
    def enqueue_for_test():
        return enqueue(diagnostics.ping).job_id

    job_id = queued.test_client().get("/enqueue-for-test", headers={"X-Request-ID": "trace-me"}).get_data(
        as_text=True)
    assert Queue("default", connection=redis).fetch_job(job_id).meta["request_id"] == "trace-me"


def test_proxy_headers_are_trusted_only_when_configured(make_app):
    seen = {}

    def add_probe(app):
        @app.get("/whoami-for-test")
        def whoami():
            seen["addr"], seen["scheme"] = flask_request.remote_addr, flask_request.scheme
            return "ok"
        return app

    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    add_probe(make_app()).test_client().get("/whoami-for-test", headers=headers)
    assert seen == {"addr": "127.0.0.1", "scheme": "http"}
    add_probe(make_app(PROXY_COUNT=1)).test_client().get("/whoami-for-test", headers=headers)
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}
