"""Dependencies failing while the site runs: PostgreSQL restarting or down, Redis going away and coming
back, S3 unreachable, SMTP unreachable. Each test proves the site degrades the way the README says and
recovers without a restart of its own.

Already covered elsewhere (not repeated here): Redis down from the start (pages render:
test_page_cache.py; the write is kept in the outbox and delivered later: test_jobs_integration.py;
/readyz: test_health_and_errors.py), SMTP answering 4xx/5xx (test_jobs_integration.py).
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from blog.extensions import db
from blog.models.jobs import EmailDelivery, OutboxJob
from blog.models.media import Media
from tests import media_samples as samples
from tests.factories import login, make_post, make_user
from tests.support import (REGION, create_bucket, delete_bucket, free_port, s3_client, start_moto_server,
                           start_worker, wait_for)

GOOD = "a-strong passphrase 42"
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
REDIS_SERVER = shutil.which("redis-server")


def count(model) -> int:
    db.session.rollback()  # a fresh snapshot: other processes and requests commit meanwhile
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


# --- PostgreSQL: a private server of this test's own (the shared one must never be restarted) ----------

class PrivatePostgres:
    """``initdb`` into a temporary folder and ``pg_ctl`` on a free loopback port; run as the ``postgres``
    user when the tests run as root (initdb refuses root)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="blog-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_user, str(PG_BIN / tool), *args], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "-o", options,
                  *extra)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._ctl("stop", "-m", "immediate")
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()  # stopped and deleted, pass or fail


def _app_on(make_app, server: PrivatePostgres, **overrides):
    app = make_app(database_url=server.url, **overrides)
    with app.app_context():
        upgrade()
        post = make_post(make_user("author"), title="Still here after a restart")
        slug = post.slug
        db.session.remove()
    return app, slug


def _get(client, path: str, limit: float = 10) -> tuple[int, str]:
    """``(status, body)`` of a GET that must finish within ``limit`` seconds. An exception that escapes the
    app (its error handler failed too) counts as the bare 500 a WSGI server answers with."""
    started = time.monotonic()
    try:
        response = client.get(path)
        status, body = response.status_code, response.get_data(as_text=True)
    except Exception as exc:  # noqa: BLE001 - gunicorn turns it into "500 Internal Server Error"
        status, body = 500, f"(escaped the app: {type(exc).__name__})"
    elapsed = time.monotonic() - started
    assert elapsed < limit, f"{path} took {elapsed:.1f}s"
    return status, body


@pytest.mark.postgres_only
def test_a_postgresql_restart_mid_run_does_not_break_later_requests(make_app, private_postgres):
    app, slug = _app_on(make_app, private_postgres)
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    client = app.test_client()
    for path in ("/", f"/p/{slug}"):
        assert _get(client, path)[0] == 200  # the pool now holds a connection to the server

    private_postgres.restart()  # every server-side connection is closed

    for _ in range(3):
        for path in ("/", f"/p/{slug}"):
            status, body = _get(client, path)
            assert status == 200, body[:500]
            assert "Still here after a restart" in body
    assert _get(client, "/readyz")[0] == 200


@pytest.mark.postgres_only
def test_without_pre_ping_the_first_request_after_a_restart_would_fail(make_app, private_postgres):
    """The control for the test above: it is pool_pre_ping that saves that first request."""
    app, slug = _app_on(make_app, private_postgres, SQLALCHEMY_ENGINE_OPTIONS={})
    client = app.test_client()
    assert _get(client, f"/p/{slug}")[0] == 200
    private_postgres.restart()
    assert _get(client, f"/p/{slug}")[0] == 500  # the stale pooled connection
    assert _get(client, f"/p/{slug}")[0] == 200  # SQLAlchemy dropped the pool after that error


@pytest.mark.postgres_only
def test_while_postgresql_is_down_requests_fail_quickly_then_recover(make_app, private_postgres):
    app, slug = _app_on(make_app, private_postgres)
    client = app.test_client()
    assert _get(client, f"/p/{slug}")[0] == 200

    private_postgres.stop()
    try:
        assert _get(client, f"/p/{slug}", limit=10)[0] in (500, 503)  # refused at once: no hang
        assert _get(client, "/")[0] in (500, 503)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json["failing"] == ["database"]
        assert ready.json["checks"]["database"] == {"ok": False, "error": "OperationalError"}
        assert _get(client, "/healthz")[0] == 200  # the process itself is alive
    finally:
        private_postgres.start()

    assert _get(client, f"/p/{slug}")[0] == 200
    assert _get(client, "/readyz")[0] == 200


@pytest.mark.postgres_only
def test_while_postgresql_is_down_readers_get_the_sites_error_page(make_app, private_postgres):
    app, slug = _app_on(make_app, private_postgres)
    client = app.test_client()
    assert _get(client, f"/p/{slug}")[0] == 200
    private_postgres.stop()
    try:
        status, body = _get(client, f"/p/{slug}")
    finally:
        private_postgres.start()
    assert status in (500, 503)
    assert "An unexpected error happened on our side" in body or "try again" in body.lower()


# --- Redis: a private server that goes away mid-run and comes back on the same port --------------------

class PrivateRedis:
    """``redis-server`` on a free loopback port, without persistence; ``stop()`` and ``start()`` again."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from redis import Redis

        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            wait_for(lambda: _pings(probe), timeout=10)
        finally:
            probe.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def _pings(connection) -> bool:
    try:
        return bool(connection.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


@pytest.fixture
def private_redis(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _register(client, username: str):
    return client.post("/register", data={"username": username, "email": f"{username}@example.com",
                                          "password": GOOD, "confirm": GOOD}, follow_redirects=True)


def test_redis_going_away_mid_run_keeps_pages_and_writes_working_and_jobs_for_later(
        app, make_app, private_redis, monkeypatch):
    from redis import Redis

    from blog import cache_state

    monkeypatch.setattr(cache_state, "PAUSE_AFTER_ERROR", 0.5)  # so the test can see the cache come back
    site = make_app(REDIS_URL=private_redis.url)
    with site.app_context():
        writer = make_user("author")
        post = make_post(writer, title="Readable without Redis")
        slug = post.slug
        reader = site.test_client()
        assert reader.get("/").headers["X-Page-Cache"] == "miss"
        assert reader.get("/").headers["X-Page-Cache"] == "hit"  # Redis is in use, with live connections

        private_redis.stop()

        started = time.monotonic()
        for path in ("/", f"/p/{slug}", "/", f"/p/{slug}"):
            response = reader.get(path)
            assert response.status_code == 200 and "Readable without Redis" in response.get_data(as_text=True)
            assert response.headers.get("X-Page-Cache") != "hit"
        assert time.monotonic() - started < 5

        # A write that enqueues: the account is saved, the mail job waits in the outbox.
        visitor = site.test_client()
        page = _register(visitor, "patient").get_data(as_text=True)
        assert "We will send a confirmation link to patient@example.com shortly." in page
        assert count(OutboxJob) == 1
        assert db.session.scalar(sa.select(OutboxJob.func)) == "blog.jobs.email:send_email"

        # An upload (local storage): stored and its row committed; the image job waits too.
        author = site.test_client()
        login(author, writer)
        uploaded = author.post("/studio/media", data={"files": [(io.BytesIO(samples.png(400, 300)), "a.png",
                                                                 "image/png")]},
                               content_type="multipart/form-data")
        assert uploaded.status_code == 302
        assert db.session.scalar(sa.select(Media.status)) == "uploaded"
        assert sorted(db.session.scalars(sa.select(OutboxJob.queue))) == ["emails", "media"]

        ready = reader.get("/readyz")
        assert ready.status_code == 503
        assert ready.json["status"] == "unavailable" and ready.json["failing"] == ["redis"]
        assert ready.json["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
        assert ready.json["checks"]["database"] == {"ok": True} and ready.json["checks"]["storage"] == {"ok": True}

        private_redis.start()  # back, empty, on the same port

        assert reader.get("/readyz").status_code == 200
        # The next successful enqueue moves what the outbox kept, oldest first.
        assert "We sent a confirmation link to eager@example.com." in _register(site.test_client(),
                                                                                "eager").get_data(as_text=True)
        assert count(OutboxJob) == 0
        queued = Redis.from_url(private_redis.url)
        try:
            assert queued.llen("rq:queue:emails") == 2 and queued.llen("rq:queue:media") == 1
        finally:
            queued.close()
        time.sleep(0.6)  # the cache's pause after the error
        reader.get("/")
        assert reader.get("/").headers["X-Page-Cache"] == "hit"
        db.session.remove()


# --- S3: moto's server, stopped (its port closed) while the site runs, then back with the same state -----

class StoppableS3:
    """moto's S3 server on a fixed port that can go down (socket closed: connections are refused) and come
    back on the same port. moto keeps its buckets in this process, so they survive the outage."""

    def __init__(self):
        self.server = start_moto_server()
        self.endpoint = self.server.endpoint
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server.server._server.server_close()  # stop() leaves the socket listening: close it
            self.server = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        from tests.support import MotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.server = MotoServer(server, self.endpoint)


@pytest.fixture
def s3_outage(aws_env):
    s3 = StoppableS3()
    client = s3_client(s3.endpoint, retries={"max_attempts": 1})
    bucket = create_bucket(client, "blog-outage")
    try:
        yield s3, client, bucket
    finally:
        if s3.server is None:
            s3.start()
        delete_bucket(client, bucket)
        s3.stop()


def _library_messages(client) -> str:
    return client.get("/studio/media").get_data(as_text=True)


def test_s3_down_pages_still_render_and_uploads_fail_cleanly(app, make_app, s3_outage):
    s3, client, bucket = s3_outage
    site = make_app(STORAGE_BACKEND="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=s3.endpoint, S3_REGION=REGION)
    with site.app_context():
        writer = make_user("author")
        studio = site.test_client()
        login(studio, writer)
        assert studio.post("/studio/media", data={"files": [(io.BytesIO(samples.jpeg(900, 600)), "up.jpg",
                                                             "image/jpeg")]},
                           content_type="multipart/form-data").status_code == 302
        ready = db.session.scalar(sa.select(Media))
        assert ready.status == "ready"  # processed inline while S3 was up
        post = make_post(writer, title="Pictures while S3 rests", featured_image_id=ready.id,
                         source=f"Look.\n\n![A gradient](media:{ready.id})")
        before = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))

        s3.stop()

        # Reader pages: the image URLs are signed locally, so pages render at once, with the usual
        # <picture> markup (the browser's image requests are what fail while S3 is away).
        reader = site.test_client()
        started = time.monotonic()
        page = reader.get(f"/p/{post.slug}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "Pictures while S3 rests" in html
        assert html.count("<picture") == 2 and s3.endpoint in html
        assert reader.get("/").status_code == 200
        assert time.monotonic() - started < 2  # rendering makes no request to S3

        # An upload through the app: a clear message, no 500, no row.
        started = time.monotonic()
        refused = studio.post("/studio/media", data={"files": [(io.BytesIO(samples.png(500, 400)), "down.png",
                                                                "image/png")]},
                              content_type="multipart/form-data")
        assert refused.status_code == 302
        assert time.monotonic() - started < 15
        assert "down.png: The image could not be stored just now. Try again in a moment." in _library_messages(studio)
        assert count(Media) == 1

        # A direct upload: the form is signed locally; the browser's POST to S3 fails; if it still says
        # "done", the answer is a clear 422 and the row stays pending for a later retry.
        started_direct = studio.post("/studio/media/direct", json={"filename": "d.jpg", "content_type": "image/jpeg",
                                                                   "size": 1000})
        assert started_direct.status_code == 200
        completed = studio.post(started_direct.json["complete_url"], json={})
        assert completed.status_code == 422
        assert completed.json["error"] == "The image could not be stored just now. Try again in a moment."
        assert db.session.get(Media, started_direct.json["id"]).status == "pending"

        status = studio.get("/readyz")
        assert status.status_code == 503 and status.json["failing"] == ["storage"]
        assert status.json["checks"]["storage"] == {"ok": False, "error": "StorageError"}

        s3.start()

        # Nothing half-written: the bucket holds exactly what it held before the outage.
        after = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))
        assert after == before
        assert studio.get("/readyz").status_code == 200
        db.session.remove()


@pytest.fixture
def unresponsive_endpoint():
    """A loopback port that accepts connections (the kernel's backlog) and never answers a byte."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_an_s3_that_never_answers_costs_an_upload_less_than_gunicorns_timeout(app, make_app, aws_env,
                                                                               unresponsive_endpoint):
    """Read timeouts and retries bound the wait (about 18 s), inside gunicorn's default 30 s: the uploader
    gets the clear message instead of a worker killed mid-request."""
    site = make_app(STORAGE_BACKEND="s3", S3_BUCKET="hanging", S3_ENDPOINT_URL=unresponsive_endpoint,
                    S3_REGION=REGION)
    with site.app_context():
        studio = site.test_client()
        login(studio, make_user("author"))
        started = time.monotonic()
        refused = studio.post("/studio/media", data={"files": [(io.BytesIO(samples.png(300, 200)), "slow.png",
                                                                "image/png")]},
                              content_type="multipart/form-data")
        elapsed = time.monotonic() - started
        assert refused.status_code == 302 and elapsed < 25, elapsed
        assert "slow.png: The image could not be stored just now." in _library_messages(studio)
        assert count(Media) == 0
        db.session.remove()


# --- SMTP: no server listening at all (connection refused), then one comes up ---------------------------

class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        from email import policy
        from email.parser import BytesParser

        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 Message accepted"


@pytest.fixture
def smtp_port():
    """A loopback port with no SMTP server on it (yet): ``start_smtp_on(port)`` brings one up."""
    return free_port()


def start_smtp_on(port: int):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def mail_worker(app, database_url, tmp_path, redis, redis_url, smtp_port):
    """A real ``python worker.py emails`` whose SMTP server is ``smtp_port``; stopped at the end."""
    worker = start_worker(["emails"], {
        "REDIS_URL": redis_url, "DATABASE_URL": database_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port,
        "BASE_URL": "http://blog.test", "INSTANCE_PATH": str(tmp_path / "worker-instance")},
        redis=redis, log=tmp_path / "worker.log")
    yield worker
    worker.stop()


def _mail_site(make_app, database_url, redis_url, smtp_port, tmp_path, intervals):
    return make_app(REDIS_URL=redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_port, MAIL_RETRY_INTERVALS=intervals,
                    BASE_URL="http://blog.test", database_url=database_url, MAIL_OUTBOX=str(tmp_path / "outbox"))


def _delivery() -> EmailDelivery:
    db.session.rollback()
    return db.session.scalar(sa.select(EmailDelivery))


def test_smtp_down_mail_is_retried_and_delivered_once_when_it_comes_back(
        make_app, database_url, redis_url, smtp_port, tmp_path, mail_worker):
    from blog.services import notifications

    site = _mail_site(make_app, database_url, redis_url, smtp_port, tmp_path, intervals=(1,) * 10)
    with site.app_context():
        assert notifications.send_password_reset(make_user(email="waiting@example.com")).status == "queued"
        failed_once = wait_for(lambda: (d := _delivery()).attempts >= 1 and d, timeout=20)
        assert failed_once.status == "queued" and "refused" in failed_once.error.lower()

        controller, inbox = start_smtp_on(smtp_port)
        try:
            message = wait_for(lambda: inbox.messages and inbox.messages[0], timeout=30)
            assert message["To"] == "waiting@example.com" and message["Subject"] == "Reset your password"
            time.sleep(2.5)  # longer than a retry interval: a duplicate would have arrived by now
            assert len(inbox.messages) == 1
        finally:
            controller.stop()
        sent = _delivery()
        assert (sent.status, sent.error) == ("sent", None) and sent.attempts >= 2
        db.session.remove()


def test_smtp_down_past_every_retry_keeps_the_mail_for_a_requeue(
        make_app, database_url, redis, redis_url, smtp_port, tmp_path, mail_worker):
    from rq import Queue

    from blog.services import notifications

    site = _mail_site(make_app, database_url, redis_url, smtp_port, tmp_path, intervals=(1, 1))
    with site.app_context():
        notifications.send_password_reset(make_user(email="persistent@example.com"))
        failed = Queue("emails", connection=redis).failed_job_registry
        wait_for(lambda: failed.count == 1, timeout=30)
        kept = _delivery()
        assert (kept.status, kept.attempts) == ("queued", 3)  # never marked sent, never given up on

        controller, inbox = start_smtp_on(smtp_port)
        try:
            requeued = site.test_cli_runner().invoke(args=["jobs", "requeue-failed"])
            assert requeued.exit_code == 0 and "Requeued 1 job(s)." in requeued.output
            message = wait_for(lambda: inbox.messages and inbox.messages[0], timeout=30)
            assert message["To"] == "persistent@example.com"
            # The worker records "sent" after the SMTP server has the message: wait for that commit too.
            assert wait_for(lambda: _delivery().status == "sent", timeout=10)
        finally:
            controller.stop()
        assert failed.count == 0
        db.session.remove()
