"""The queue on the embedded default (inline) and on the real Redis (own db number, cleaned up)."""
import logging
import os

import pytest
from redis import Redis
from rq import Queue

from blog.jobs import queue

REDIS_URL = os.environ.get("BLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
calls = []


def record(value):
    calls.append(value)


def explode():
    raise ValueError("job failed on purpose")


def test_inline_jobs_run_in_process(app):
    calls.clear()
    assert queue.enqueue(record, 42, queue="emails") is None
    assert calls == [42]


def test_inline_job_failures_are_logged_not_raised(app, caplog):
    with caplog.at_level(logging.ERROR, logger="blog.jobs.queue"):
        queue.enqueue(explode)
    assert any("inline job" in r.message and "explode" in r.message for r in caplog.records)
    assert "job failed on purpose" in caplog.text


def test_unknown_queue_is_refused(app):
    with pytest.raises(ValueError):
        queue.enqueue(record, 1, queue="bulk")


@pytest.fixture
def redis_app(make_app):
    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield make_app(REDIS_URL=REDIS_URL)
    connection.flushdb()
    connection.close()


def test_with_redis_jobs_go_to_the_named_queue(redis_app):
    with redis_app.app_context():
        job_id = queue.enqueue(record, 7, queue="media")
        media = Queue("media", connection=Redis.from_url(REDIS_URL))
        assert media.job_ids == [job_id]
        assert media.fetch_job(job_id).args == (7,)
        assert Queue("emails", connection=Redis.from_url(REDIS_URL)).count == 0
