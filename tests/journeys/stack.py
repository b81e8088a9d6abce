"""The real stack the browser journeys run against, started natively on free loopback ports:

- gunicorn serving ``wsgi:app`` with the repository's ``gunicorn.conf.py`` and the production settings;
- ``python worker.py`` (every queue, its scheduler);
- a PostgreSQL database of its own on the test server, built by the real migrations;
- a Redis database of its own (claimed like the test run's, see ``tests.conftest``);
- moto's S3 server with a bucket, and an aiosmtpd SMTP server that keeps every message.

Everything is stopped (and the database, bucket and Redis database removed) when the ``running`` block
ends, pass or fail. The processes' output goes to ``<output>/logs`` so a failed journey can be read.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.support import (REGION, Worker, create_bucket, delete_bucket, fake_aws_env, free_port, s3_client,
                           start_moto_server, start_smtp, stop_process)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET_KEY = "journeys-secret-key-0123456789abcdef-not-for-production"


class Mailbox:
    """An aiosmtpd handler that keeps every message; addresses in ``refuse`` get a permanent 550."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def wait_for(self, to: str, subject_contains: str = "", timeout: float = 40) -> EmailMessage:
        """The newest message to ``to`` whose subject holds ``subject_contains``; waits for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.messages
                         if to.lower() in str(m["To"]).lower() and subject_contains in str(m["Subject"])]
            if found:
                return found[-1]
            time.sleep(0.1)
        raise AssertionError(f"no email to {to} ({subject_contains!r}) reached the SMTP server in {timeout}s; "
                             f"it has: {[(str(m['To']), str(m['Subject'])) for m in self.messages]}")

    @staticmethod
    def link(message: EmailMessage, base: str, path_prefix: str) -> str:
        """The absolute link under ``base`` + ``path_prefix`` in the message's plain-text part."""
        text = message.get_body(preferencelist=("plain",)).get_content()
        for url in re.findall(r"https?://\S+", text):
            if url.startswith(base) and urlsplit(url).path.startswith(path_prefix):
                return url
        raise AssertionError(f"no link to {path_prefix} in: {text}")


@dataclass
class Stack:
    base: str
    mailbox: Mailbox
    app: object  # the blog built in this process on the same settings: seeding and checks
    s3_endpoint: str
    logs: Path
    env: dict = field(repr=False, default_factory=dict)


def _dispose(app) -> None:
    from blog.extensions import db

    with app.app_context():
        db.engine.dispose()


def _wait_ready(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until /readyz says every check (database, Redis, storage, a worker's heartbeat) passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before answering")
        try:
            answer = requests.get(f"{base}/readyz", timeout=5)
            last = answer.text
            checks = answer.json().get("checks", {}) if answer.status_code == 200 else {}
            if checks and all(check.get("ok") for check in checks.values()):
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the stack was not ready in {timeout}s: {last}")


@contextmanager
def running(database_url: str, redis_url: str, output: Path):
    """Start the whole stack on the given (empty, own) PostgreSQL database and Redis database."""
    from flask_migrate import upgrade

    from blog.app import create_app
    from blog.config import Config
    logs = output / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack, pytest.MonkeyPatch.context() as mp:
        fake_aws_env(mp, str(output / "no-aws-config"))
        moto = start_moto_server()
        stack.callback(moto.stop)
        s3 = s3_client(moto.endpoint)
        bucket = create_bucket(s3, "journeys")
        stack.callback(delete_bucket, s3, bucket)
        mailbox = Mailbox()
        smtp = start_smtp(mailbox)
        stack.callback(smtp.stop)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if key != "BLOG_ENV"}  # production settings
        env.update({
            "PYTHONPATH": str(ROOT), "INSTANCE_PATH": str(output / "instance"), "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "BASE_URL": base,
            "STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_REGION": REGION, "S3_ENDPOINT_URL": moto.endpoint,
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port),
            "MAIL_DEFAULT_SENDER": "Journeys <blog@journeys.test>",
            # One proxy in front, as in production behind nginx: each browser context sends its own
            # X-Forwarded-For, so the per-address sign-in limit of one journey does not spill into another.
            "PROXY_COUNT": "1", "WEB_CONCURRENCY": "2", "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_ACCESS_LOG": str(logs / "access.log"),
            "PROMETHEUS_MULTIPROC_DIR": str(output / "metrics"),
        })
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
                     "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED", "NO_PROXY"):
            env[name] = os.environ[name]

        app = create_app(Config.from_env(env))
        with app.app_context():
            upgrade()
        stack.callback(_dispose, app)

        web = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                               stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT)
        stack.callback(stop_process, web)
        worker = subprocess.Popen([sys.executable, "worker.py", "--sweep-seconds", "1"], cwd=ROOT, env=env,
                                  stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT)
        stack.callback(Worker(worker, None).stop, 20)  # its scheduler and work-horse too
        _wait_ready(base, web)
        yield Stack(base=base, mailbox=mailbox, app=app, s3_endpoint=moto.endpoint, logs=logs, env=env)
