"""The operator's view of jobs: /admin/jobs, `flask jobs ...`, /readyz's worker field, and the
moderation emails. Failed jobs are produced by an in-process RQ SimpleWorker on the run's own Redis."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from blog.extensions import db
from blog.jobs import diagnostics
from blog.jobs.queue import enqueue
from blog.models.audit import AuditEvent
from blog.models.jobs import EmailDelivery, OutboxJob
from blog.services import comments, notifications
from tests.factories import login, make_comment, make_post, make_user, now



@pytest.fixture
def queued_app(app, make_app, redis, redis_url):
    queued = make_app(REDIS_URL=redis_url)
    with queued.app_context():
        yield queued
        db.session.remove()


def fail_a_job(redis, message="boom") -> str:
    job_id = enqueue(diagnostics.fail, message).job_id
    SimpleWorker([Queue("default", connection=redis)], connection=redis).work(burst=True)
    return job_id


def test_admin_jobs_page_shows_queues_failures_and_refused_mail(queued_app, redis):
    job_id = fail_a_job(redis, "disk on fire")
    db.session.add(EmailDelivery(idempotency_key="k1", kind="confirm", recipient="gone@example.com",
                                 subject="Confirm", status="failed", error="550 no such user"))
    db.session.commit()
    client = queued_app.test_client()
    login(client, make_user("admin"))
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "blog.jobs.diagnostics.fail" in html and job_id in html and "disk on fire" in html
    assert "gone@example.com" in html and "550 no such user" in html
    assert "No worker is running" in html


def test_requeue_and_delete_are_audited_posts(queued_app, redis):
    client = queued_app.test_client()
    admin = make_user("admin")
    login(client, admin)
    first, second = fail_a_job(redis), fail_a_job(redis)
    assert client.get(f"/admin/jobs/{first}/requeue").status_code == 405
    assert client.post(f"/admin/jobs/{first}/requeue").status_code == 302
    assert Queue("default", connection=redis).job_ids == [first]
    assert client.post(f"/admin/jobs/{second}/delete").status_code == 302
    assert Queue("default", connection=redis).failed_job_registry.count == 0
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["job.requeued", "job.deleted"]
    assert client.post("/admin/jobs/nope/requeue").status_code == 404


@pytest.mark.parametrize("role", ["reader", "author", "editor"])
def test_only_admins_see_jobs(queued_app, role):
    client = queued_app.test_client()
    login(client, make_user(role))
    assert client.get("/admin/jobs").status_code == 403
    assert client.post("/admin/jobs/x/requeue").status_code == 403


def test_jobs_page_reports_redis_down_instead_of_failing(make_app, app):
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with down.app_context():
        client = down.test_client()
        login(client, make_user("admin"))
        response = client.get("/admin/jobs")
        assert response.status_code == 200 and "Redis cannot be reached" in response.get_data(as_text=True)
        db.session.remove()


def test_cli_status_requeue_purge_and_flush(queued_app, redis):
    runner = queued_app.test_cli_runner()
    fail_a_job(redis)
    status = runner.invoke(args=["jobs", "status"])
    assert status.exit_code == 0 and "default" in status.output and "failed" in status.output
    assert "Requeued 1 job(s)." in runner.invoke(args=["jobs", "requeue-failed"]).output
    SimpleWorker([Queue("default", connection=redis)], connection=redis).work(burst=True)  # fails again
    assert "Deleted 1 failed job(s)." in runner.invoke(args=["jobs", "purge-failed", "--yes"]).output
    db.session.add(OutboxJob(func="blog.jobs.diagnostics:ping", queue="default", args=[], options={}))
    db.session.commit()
    flushed = runner.invoke(args=["jobs", "flush-outbox"])
    assert flushed.exit_code == 0 and "Moved 1 job(s) to Redis; 0 still waiting." in flushed.output
    unknown = runner.invoke(args=["jobs", "requeue-failed", "no-such-job"])
    assert unknown.exit_code == 1 and "There is no failed job with this id." in unknown.output


def test_cli_says_when_redis_is_down_or_absent(make_app, app):
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with down.app_context():
        result = down.test_cli_runner().invoke(args=["jobs", "status"])
        assert result.exit_code == 1 and "Redis unreachable" in result.output
        db.session.remove()
    inline = app.test_cli_runner().invoke(args=["jobs", "flush-outbox"])
    assert inline.exit_code == 1 and "REDIS_URL is not set" in inline.output


def test_outbox_never_runs_functions_outside_the_jobs_package(queued_app, redis):
    db.session.add(OutboxJob(func="os:system", queue="default", args=["echo pwned"], options={}))
    db.session.commit()
    from blog.jobs.queue import flush_outbox

    with pytest.raises(ValueError, match="not a job"):
        flush_outbox()


def test_readyz_reports_workers_without_failing(queued_app, redis):
    response = queued_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["workers"] == {"ok": False, "alive": 0}
    assert response.json["failing"] == []


def test_moderation_mail_goes_to_the_post_author_at_most_hourly(app, outbox):
    author = make_user("author", email="author@example.com")
    post = make_post(author, title="Popular")
    reader = make_user("reader")
    for _ in range(3):
        comments.add_comment(actor=reader, post_id=post.id, source="First!")  # pending: first comments wait
    mails = [m for m in outbox.messages() if m["To"] == "author@example.com"]
    assert len(mails) == 1 and mails[0]["Subject"] == "Comments wait for your approval"
    assert notifications.notify_moderation_needed(post, now=now() + timedelta(minutes=59)) is None
    assert notifications.notify_moderation_needed(post, now=now() + timedelta(minutes=61)) is not None


def test_approval_mail_goes_to_the_commenter_with_a_link_to_the_comment(app, outbox):
    editor = make_user("editor")
    commenter = make_user("reader", email="commenter@example.com")
    comment = make_comment(make_post(title="Nachricht"), author=commenter, status="pending")
    comments.moderate(actor=editor, comment_ids=[comment.id], action="approve")
    message = outbox.last()
    assert message["To"] == "commenter@example.com"
    assert f"#comment-{comment.id}" in message.get_body(("plain",)).get_content()
