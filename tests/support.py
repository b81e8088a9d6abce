"""Plain helpers shared by the tests that run real servers and processes (and by bench/media_bench.py).

No pytest here: free ports, polling, moto's S3 server and buckets, and a real ``python worker.py``.
moto and boto3 are imported only when used, so importing this module stays cheap.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, every: float = 0.1):
    """Call ``predicate`` until it returns something truthy, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def start_smtp(handler):
    """aiosmtpd's SMTP server for ``handler`` on a free loopback port, started; ``stop()`` it afterwards."""
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


# --- S3 (moto's server, in this process, on loopback) ---------------------------------------------------

AWS_VARIABLES_TO_CLEAR = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL",
                          "AWS_ENDPOINT_URL_S3", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def fake_aws_env(mp, nowhere: str) -> None:
    """Fake credentials only (through the MonkeyPatch ``mp``); no profile, config file, instance metadata or
    proxy can leak in. ``nowhere`` is a path that does not exist, for the config and credentials files."""
    for name in AWS_VARIABLES_TO_CLEAR:
        mp.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": nowhere,
                        "AWS_SHARED_CREDENTIALS_FILE": nowhere, "AWS_EC2_METADATA_DISABLED": "true",
                        "NO_PROXY": "127.0.0.1,localhost"}.items():
        mp.setenv(name, value)


class MotoServer:
    """moto's S3 server on a loopback port; ``endpoint`` is its URL."""

    def __init__(self, server, endpoint: str):
        self.server = server
        self.endpoint = endpoint

    def stop(self) -> None:
        self.server.stop()


def start_moto_server() -> MotoServer:
    from moto.server import ThreadedMotoServer

    # Port 0: the server binds a free port itself, so no other process can take it in between.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
    except BaseException:
        server.stop()
        raise
    return MotoServer(server, f"http://{host}:{port}")


def s3_client(endpoint: str, **config):
    """A path-style, SigV4 S3 client for ``endpoint``; ``config`` adds botocore Config options."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config))


def create_bucket(client, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


def delete_bucket(client, name: str) -> None:
    """Empty and delete a bucket: moto keeps state for the life of the process, so leave nothing behind."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def fetch(url: str, timeout: float = 10) -> tuple[int, bytes, str]:
    """GET ``url`` directly (no proxy): (status, body, Content-Type)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return response.status, response.read(), response.headers.get("Content-Type")


# --- A real ``python worker.py`` ------------------------------------------------------------------------

def child_pids(pid: int) -> set[int]:
    """The process's children now (empty when it is gone)."""
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except FileNotFoundError:
        return set()


def wait_gone(pid: int, timeout: float = 10) -> None:
    """Wait for a process to exit; kill it when it does not (it would hold RQ's scheduler lock)."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if Path(f"/proc/{pid}").exists():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it exited just now
            pass


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM a process we started and wait for it; SIGKILL it when it outstays ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class Worker:
    """A running ``python worker.py``; ``stop()`` ends it and every child it had."""

    def __init__(self, process: subprocess.Popen, log: IO | None):
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the worker, then make sure its children (scheduler, work-horse) are gone too."""
        children = child_pids(self.process.pid)
        stop_process(self.process, timeout)
        for pid in children:
            wait_gone(pid)
        if self.log is not None:
            self.log.close()


def start_worker(args: list[str], settings: Mapping[str, object], redis, log: Path | None = None,
                 timeout: float = 30) -> Worker:
    """``python worker.py *args`` from the repository root, in development mode with ``settings`` in its
    environment; returns once it has registered in ``redis`` (a connection to the database it uses).

    Its output goes to the file ``log`` (or nowhere). Stopped again if it does not register in time.
    """
    env = {**os.environ, "BLOG_ENV": "development", "PYTHONPATH": str(ROOT),
           **{key: str(value) for key, value in settings.items()}}
    stream = log.open("w") if log is not None else None
    process = subprocess.Popen([sys.executable, "worker.py", *args], cwd=ROOT, env=env,
                               stdout=stream if stream is not None else subprocess.DEVNULL, stderr=subprocess.STDOUT)
    worker = Worker(process, stream)
    try:
        wait_for(lambda: redis.keys("rq:worker:*"), timeout=timeout)
    except BaseException:
        worker.stop()
        raise
    return worker


@contextmanager
def count_statements():
    """The SQL statements the app's engine runs inside the block (a list, filled as they run)."""
    from blog.extensions import db

    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
