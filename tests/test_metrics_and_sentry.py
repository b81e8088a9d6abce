"""/metrics (Prometheus text, token-protected) and optional Sentry reporting."""
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker

from blog.extensions import db
from blog.jobs import diagnostics
from blog.jobs.queue import enqueue
from blog.models.jobs import EmailDelivery

TOKEN = "scrape-me-0123456789"


def samples(text: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def test_metrics_are_not_public(app, make_app):
    assert app.test_client().get("/metrics").status_code == 404  # no token configured: no page
    protected = make_app(METRICS_TOKEN=TOKEN).test_client()
    assert protected.get("/metrics").status_code == 404
    assert protected.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404


def test_requests_jobs_queues_and_emails_are_counted(app, make_app, redis, redis_url):
    monitored = make_app(METRICS_TOKEN=TOKEN, REDIS_URL=redis_url)
    with monitored.app_context():
        client = monitored.test_client()
        before = scrape(client)
        key = ("blog_http_requests_total", (("endpoint", "health.healthz"), ("method", "GET"), ("status", "200")))
        client.get("/healthz")
        client.get("/healthz")
        enqueue(diagnostics.ping)
        enqueue(diagnostics.fail)
        db.session.add(EmailDelivery(idempotency_key="m1", kind="confirm", recipient="a@example.com", subject="S",
                                     status="failed"))
        db.session.commit()
        after = scrape(client)
        assert after[key] - before.get(key, 0) == 2
        assert after[("blog_queue_jobs", (("queue", "default"), ("state", "queued")))] == 2
        SimpleWorker([Queue("default", connection=redis)], connection=redis).work(burst=True)
        done = scrape(client)
        assert done[("blog_job_runs_total", (("outcome", "success"), ("queue", "default")))] == 1
        assert done[("blog_job_runs_total", (("outcome", "failure"), ("queue", "default")))] == 1
        assert done[("blog_queue_jobs", (("queue", "default"), ("state", "failed")))] == 1
        assert done[("blog_emails_total", (("status", "failed"),))] == 1
        assert done[("blog_redis_up", ())] == 1
        assert ("blog_http_request_duration_seconds_count", (("endpoint", "health.healthz"),)) in done
        db.session.remove()


class _Collector(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        _Collector.received.append(body.decode("utf-8", "replace"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_endpoint():
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    yield f"http://public@127.0.0.1:{server.server_address[1]}/1"
    server.shutdown()
    server.server_close()
    import sentry_sdk

    sentry_sdk.init(dsn=None)  # switch reporting off again for the rest of the run


def test_exceptions_go_to_sentry_only_when_configured(app, make_app, sentry_endpoint):
    import sentry_sdk

    quiet = make_app()

    @quiet.get("/explode-quietly-for-test")
    def explode_quietly():
        raise RuntimeError("not reported")

    assert quiet.test_client().get("/explode-quietly-for-test").status_code == 500
    sentry_sdk.flush(timeout=2)
    assert _Collector.received == []  # no SENTRY_DSN: nothing leaves the process

    reporting = make_app(SENTRY_DSN=sentry_endpoint)

    @reporting.get("/explode-for-test")
    def explode():
        raise RuntimeError("reported to sentry")

    assert reporting.test_client().get("/explode-for-test").status_code == 500
    sentry_sdk.flush(timeout=5)
    events = [line for body in _Collector.received for line in body.splitlines() if line.startswith("{")]
    assert any("reported to sentry" in line for line in events)
    assert all(isinstance(json.loads(line), dict) for line in events)  # a well-formed envelope
