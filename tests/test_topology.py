"""The docker-compose topology, run natively: nginx (the repo's template) in front of gunicorn, a worker,
the test database, Redis, an S3 API server (moto) and an SMTP server (aiosmtpd), on loopback ports.

One request is walked through every service; every process is stopped at the end, pass or fail.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import boto3
import pytest
import requests
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer

from tests.support import stop_process

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BIN = Path(sys.executable).parent
METRICS_TOKEN = "topology-metrics-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout}s")


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append(message.get_body(("plain",)).get_content())
        return "250 OK"


def render_template_like_nginx_image(text: str, values: dict) -> str:
    """What the nginx image's envsubst does: replace ${NAME} for the given names, leave nginx's $vars alone."""
    return re.sub(r"\$\{(BLOG_[A-Z_]+)\}", lambda m: values[m.group(1)], text)


@pytest.fixture
def stack(app, database_url, redis, redis_url, tmp_path):
    """Start everything; yield the nginx base URL and the mailbox; stop everything."""
    processes: list[subprocess.Popen] = []
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        s3_host, s3_port = moto.get_host_and_port()
        s3_url = f"http://{s3_host}:{s3_port}"
        aws = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test").create_bucket(Bucket="topology")
        web_port, nginx_port = free_port(), free_port()
        env = {**os.environ, **aws, "PYTHONPATH": str(ROOT), "INSTANCE_PATH": str(tmp_path / "instance"),
               "DATABASE_URL": database_url, "REDIS_URL": redis_url, "STORAGE_BACKEND": "s3", "S3_BUCKET": "topology",
               "S3_REGION": "us-east-1", "S3_ENDPOINT_URL": s3_url, "MAIL_SERVER": "127.0.0.1",
               "MAIL_PORT": str(smtp.port), "BASE_URL": f"http://127.0.0.1:{nginx_port}", "PROXY_COUNT": "1",
               "WEB_CONCURRENCY": "2", "SECRET_KEY": "topology-secret-key-0123456789abcdef",
               "METRICS_TOKEN": METRICS_TOKEN}
        env.pop("BLOG_ENV", None)
        logs = tmp_path / "logs"
        logs.mkdir()
        processes.append(subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{web_port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=(logs / "web.log").open("w"), stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen([sys.executable, "worker.py", "--sweep-seconds", "1"], cwd=ROOT, env=env,
                                          stdout=(logs / "worker.log").open("w"), stderr=subprocess.STDOUT))
        site = render_template_like_nginx_image((ROOT / "nginx/templates/default.conf.template").read_text(), {
            "BLOG_UPSTREAM": f"127.0.0.1:{web_port}", "BLOG_STATIC_ROOT": str(ROOT / "blog"), "BLOG_MAX_BODY": "21m",
            "BLOG_LISTEN": f"127.0.0.1:{nginx_port}"})
        (tmp_path / "site.conf").write_text(site)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (tmp_path / "nginx.conf").write_text(
            f"{user}worker_processes 1;\ndaemon off;\npid {tmp_path}/nginx.pid;\nerror_log {logs}/nginx-error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{ include /etc/nginx/mime.types; access_log {logs}/nginx-access.log;\n"
            f"  client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
            f"  fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;\n"
            f"  include {tmp_path}/site.conf; }}\n")
        processes.append(subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                                          stdout=(logs / "nginx.log").open("w"), stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{nginx_port}"
        wait_http(f"{base}/healthz")
        yield base, mailbox
    finally:
        for process in reversed(processes):
            stop_process(process)
        smtp.stop()
        moto.stop()


def test_a_request_walks_through_every_service(stack):
    base, mailbox = stack
    # nginx -> gunicorn: the proxy's request id comes back; the app trusts one proxy for the scheme.
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200 and health.headers["Server"].startswith("nginx")
    assert re.fullmatch(r"[0-9a-f]{32}", health.headers["X-Request-ID"])
    # gunicorn -> database, Redis, S3 (writable bucket) and a worker's heartbeat.
    deadline = time.monotonic() + 30
    while True:
        ready = requests.get(f"{base}/readyz", timeout=10).json()
        if ready["checks"].get("workers", {}).get("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ready["status"] == "ready", ready
    assert {name: c["ok"] for name, c in ready["checks"].items()} == {
        "database": True, "redis": True, "storage": True, "workers": True}
    # nginx serves static files itself, compressed and cacheable.
    css = requests.get(f"{base}/static/css/site.css", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert css.status_code == 200 and css.headers["Content-Encoding"] == "gzip"
    assert "max-age=86400" in css.headers["Cache-Control"] and "X-Request-ID" not in css.headers
    # A registration: web -> database -> Redis -> worker -> SMTP, with a link back through nginx.
    session = requests.Session()
    form = session.get(f"{base}/register", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    page = session.post(f"{base}/register", timeout=10, data={
        "csrf_token": token, "username": "walker", "email": "walker@example.com",
        "password": "a-strong passphrase 42", "confirm": "a-strong passphrase 42"})
    assert page.status_code == 200 and "confirmation link" in page.text
    deadline = time.monotonic() + 30
    while not mailbox.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mailbox.messages, "the confirmation email never reached the SMTP server"
    link = re.search(rf"{re.escape(base)}(/confirm/\S+)", mailbox.messages[0]).group(1)
    confirm_page = session.get(f"{base}{link}", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', confirm_page).group(1)
    confirmed = session.post(f"{base}{link}", data={"csrf_token": token}, timeout=10)
    assert "your email address is confirmed" in confirmed.text
    # /metrics adds up every gunicorn worker's counts (multiprocess mode): 40 more requests, 40 more counted.
    def healthz_count() -> float:
        text = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text
        found = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith('blog_http_requests_total{') and 'endpoint="health.healthz"' in line]
        return sum(found)

    before = healthz_count()
    for _ in range(40):
        requests.get(f"{base}/healthz", timeout=10)
    assert healthz_count() - before == 40
    # nginx refuses bodies above the upload limit before they reach the app.
    too_big = requests.post(f"{base}/register", data=b"x" * (22 * 1024 * 1024), timeout=30)
    assert too_big.status_code == 413
