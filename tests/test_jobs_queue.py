"""The queue on the embedded default (inline) and on the real Redis (own db number, cleaned up)."""
import logging

import pytest
from rq import Queue

from blog.jobs import diagnostics, queue



def test_inline_jobs_run_in_process(app, tmp_path):
    marker = tmp_path / "ran"
    assert queue.enqueue(diagnostics.ping, str(marker), queue="emails") == queue.Enqueued("inline")
    assert marker.read_text() == "pong\n"


def test_inline_job_failures_are_logged_not_raised(app, caplog):
    with caplog.at_level(logging.ERROR, logger="blog.jobs.queue"):
        queue.enqueue(diagnostics.fail, "job failed on purpose")
    assert any("inline job" in r.message and "diagnostics:fail" in r.message for r in caplog.records)
    assert "job failed on purpose" in caplog.text


def test_unknown_queue_and_non_job_functions_are_refused(app):
    with pytest.raises(ValueError):
        queue.enqueue(diagnostics.ping, queue="bulk")
    with pytest.raises(ValueError, match="not a job"):
        queue.enqueue(print, "x")


def test_with_redis_jobs_go_to_the_named_queue(make_app, redis, redis_url):
    with make_app(REDIS_URL=redis_url).app_context():
        result = queue.enqueue(diagnostics.ping, "/nonexistent/marker", queue="media")
        media = Queue("media", connection=redis)
        assert result.status == "queued" and media.job_ids == [result.job_id]
        assert media.fetch_job(result.job_id).args == ("/nonexistent/marker",)
        assert Queue("emails", connection=redis).count == 0
