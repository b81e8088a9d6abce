"""Jobs end to end: a real worker.py process, the run's own Redis database and an SMTP server (aiosmtpd).

Covers: mail that arrives with working links, temporary SMTP failures retried and delivered once,
permanent ones failed without retries, a killed work-horse, and Redis down at enqueue time.
"""
from __future__ import annotations

import os
import re
import signal
import time
from email import policy
from email.parser import BytesParser

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from blog.extensions import db
from blog.jobs import diagnostics
from blog.jobs.queue import Enqueued, enqueue
from blog.models.jobs import EmailDelivery, OutboxJob
from blog.services.accounts import get_by_login
from tests.support import child_pids, start_smtp, start_worker, wait_for

GOOD = "a-strong passphrase 42"


class SMTPHandler:
    """Collects messages; ``temporary_failures`` 451s before accepting, ``refuse`` answers 550."""

    def __init__(self):
        self.messages = []
        self.data_attempts = 0
        self.rcpt_attempts = 0
        self.temporary_failures = 0
        self.refuse = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts += 1
        if self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 Message accepted"


@pytest.fixture
def smtp():
    handler = SMTPHandler()
    controller = start_smtp(handler)
    yield controller.port, handler
    controller.stop()


@pytest.fixture
def settings(smtp, database_url, tmp_path, redis_url):
    port, _handler = smtp
    return {"REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_RETRY_INTERVALS": (1, 1, 1),
            "BASE_URL": "http://blog.test", "database_url": database_url, "MAIL_OUTBOX": str(tmp_path / "outbox")}


@pytest.fixture
def live_app(app, make_app, settings, redis):
    """An app that queues to the real Redis (``app`` migrates the database and empties it afterwards)."""
    queued = make_app(**settings)
    with queued.app_context():
        yield queued
        db.session.remove()


@pytest.fixture
def worker(settings, database_url, tmp_path, redis, redis_url):
    """A real ``python worker.py`` process on the emails and default queues, stopped at the end."""
    worker = start_worker(["emails", "default", "--sweep-seconds", "1"], {
        "REDIS_URL": redis_url, "DATABASE_URL": database_url, "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": settings["MAIL_PORT"], "BASE_URL": "http://blog.test",
        "INSTANCE_PATH": str(tmp_path / "worker-instance")}, redis=redis, log=tmp_path / "worker.log")
    yield worker.process
    worker.stop()  # the scheduler (and a work-horse, if busy) must go too


def link_path(message, prefix: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"http://blog\.test({re.escape(prefix)}\S+)", text).group(1)


def delivery(kind: str) -> EmailDelivery:
    db.session.expire_all()
    return db.session.scalar(sa.select(EmailDelivery).where(EmailDelivery.kind == kind))


def test_registration_mail_arrives_with_a_working_link(live_app, worker, smtp):
    _port, handler = smtp
    client = live_app.test_client()
    response = client.post("/register", data={"username": "newbie", "email": "newbie@example.com",
                                              "password": GOOD, "confirm": GOOD}, follow_redirects=True)
    assert "We sent a confirmation link" in response.get_data(as_text=True)
    message = wait_for(lambda: handler.messages and handler.messages[0])
    assert message["To"] == "newbie@example.com" and message["Subject"] == "Confirm your email address"
    client.post(link_path(message, "/confirm/"))
    assert get_by_login("newbie").is_confirmed
    assert delivery("confirm").status == "sent"


def test_reset_mail_arrives(live_app, worker, smtp):
    from tests.factories import make_user

    _port, handler = smtp
    make_user(username="forgetful", email="forgetful@example.com")
    live_app.test_client().post("/reset", data={"email": "forgetful@example.com"})
    message = wait_for(lambda: handler.messages and handler.messages[0])
    assert message["Subject"] == "Reset your password" and link_path(message, "/reset/")


def test_temporary_failures_are_retried_and_delivered_exactly_once(live_app, worker, smtp):
    _port, handler = smtp
    handler.temporary_failures = 2
    from blog.services import notifications
    from tests.factories import make_user

    result = notifications.send_password_reset(make_user(email="retry@example.com"))
    assert result.status == "queued"
    wait_for(lambda: handler.messages, timeout=30)
    time.sleep(2.5)  # longer than a retry interval: a duplicate would have arrived by now
    assert len(handler.messages) == 1 and handler.data_attempts == 3
    row = delivery("reset_password")
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)


def test_permanent_failure_fails_at_once_without_retries(live_app, worker, smtp, redis):
    _port, handler = smtp
    handler.refuse = True
    from blog.services import notifications
    from tests.factories import make_user

    result = notifications.send_password_reset(make_user(email="nobody@example.com"))
    failed = Queue("emails", connection=redis).failed_job_registry
    wait_for(lambda: failed.count == 1, timeout=30)
    time.sleep(2.5)
    assert handler.rcpt_attempts == 1 and handler.messages == []
    assert Job.fetch(result.job_id, connection=redis).get_status() == "failed"
    row = delivery("reset_password")
    assert row.status == "failed" and "550" in row.error


def test_a_requeued_permanent_failure_tries_again_and_is_delivered(live_app, worker, smtp, redis):
    # The mailbox was fixed after the 550: the operator's requeue must really send, once.
    _port, handler = smtp
    handler.refuse = True
    from blog.services import notifications, operations
    from tests.factories import make_user

    admin = make_user("admin")
    result = notifications.send_password_reset(make_user(email="fixed-later@example.com"))
    failed = Queue("emails", connection=redis).failed_job_registry
    wait_for(lambda: failed.count == 1, timeout=30)
    handler.refuse = False
    operations.requeue(actor=admin, job_id=result.job_id)
    wait_for(lambda: handler.messages, timeout=30)
    wait_for(lambda: delivery("reset_password").status == "sent", timeout=10)
    assert len(handler.messages) == 1 and failed.count == 0


def test_a_killed_work_horse_leaves_the_job_failed_not_lost(live_app, worker, redis, tmp_path):
    wait_for(lambda: redis.keys("rq:scheduler-lock:*"), timeout=20)  # the scheduler child is up
    idle_children = child_pids(worker.pid)
    result = enqueue(diagnostics.ping, str(tmp_path / "never"), 30)  # sleeps 30 s
    queue = Queue("default", connection=redis)
    wait_for(lambda: result.job_id in queue.started_job_registry.get_job_ids(), timeout=20)
    horses = wait_for(lambda: child_pids(worker.pid) - idle_children, timeout=10)  # forked for the job
    for pid in horses:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: Job.fetch(result.job_id, connection=redis).get_status() == "failed", timeout=20)
    assert result.job_id in queue.failed_job_registry.get_job_ids()
    assert not (tmp_path / "never").exists()
    assert worker.poll() is None  # the worker itself survives and keeps working
    marker = tmp_path / "after"
    enqueue(diagnostics.ping, str(marker))
    wait_for(marker.exists)


def test_redis_down_at_enqueue_keeps_the_data_and_delivers_later(app, make_app, settings, redis, smtp, worker):
    _port, handler = smtp
    down = make_app(**{**settings, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with down.app_context():
        response = down.test_client().post("/register", data={
            "username": "patient", "email": "patient@example.com", "password": GOOD, "confirm": GOOD},
            follow_redirects=True)
        assert "We will send a confirmation link to patient@example.com shortly." in response.get_data(as_text=True)
        assert get_by_login("patient") is not None  # the account is saved
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 1
        db.session.remove()
    # The worker's sweep moves the kept job to Redis; the mail goes out.
    message = wait_for(lambda: handler.messages and handler.messages[0], timeout=30)
    assert message["To"] == "patient@example.com"
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 0


def test_enqueue_reports_deferred_when_redis_is_down(app, make_app, settings):
    down = make_app(**{**settings, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with down.app_context():
        assert enqueue(diagnostics.ping) == Enqueued("deferred")
        row = db.session.scalar(sa.select(OutboxJob))
        assert row.func == "blog.jobs.diagnostics:ping" and "Connection" in row.last_error
        db.session.remove()
