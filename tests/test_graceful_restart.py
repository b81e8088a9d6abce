"""A graceful restart of gunicorn (SIGHUP to the master, as the README's upgrade steps say) under load
drops no request: every request in flight or arriving meanwhile gets a complete 200.

gunicorn runs as in production (``gunicorn.conf.py``, ``wsgi:app``, two sync workers, preloading) on a free
loopback port against the test database. Eight client threads send requests back to back, two more send
theirs slowly (headers trickling in for a second, as a slow phone would), and the master is sent SIGHUP
twice meanwhile. The whole process group is stopped at the end, pass or fail.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from blog.extensions import db
from tests.factories import make_post, make_user
from tests.support import ROOT, child_pids, free_port, wait_for

BIN = Path(sys.executable).parent
CLIENTS = 8
SLOW_CLIENTS = 2
LOAD_SECONDS = 6.0
HUP_AT = (1.5, 3.5)  # seconds into the load
REQUEST_TIMEOUT = 15


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", path, headers={"Accept": "text/html"})
        response = connection.getresponse()
        body = response.read()
        length = response.getheader("Content-Length")
        if length is not None and int(length) != len(body):
            raise AssertionError(f"incomplete body for {path}: {len(body)} of {length} bytes")
        return response.status, body
    finally:
        connection.close()


def _slow_get(port: int, path: str) -> tuple[int, bytes]:
    """A GET whose headers arrive over a second: a worker is busy with it for all that time."""
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        time.sleep(0.5)
        sock.sendall(b"Accept: text/html\r\n")
        time.sleep(0.5)
        sock.sendall(b"Connection: close\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        length = response.getheader("Content-Length")
        if length is not None and int(length) != len(body):
            raise AssertionError(f"incomplete body for {path}: {len(body)} of {length} bytes")
        return response.status, body


@pytest.fixture
def gunicorn(app, database_url, tmp_path):
    """gunicorn serving the test database with a published post; yields (port, master pid, slug, log)."""
    post = make_post(make_user("author"), title="Served through a restart",
                     source="A paragraph.\n\n" * 40)
    slug = post.slug
    db.session.remove()
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url,
           "INSTANCE_PATH": str(tmp_path / "instance"), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "1",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
           "SECRET_KEY": "graceful-restart-secret-key-0123456789abcdef"}
    for name in ("BLOG_ENV", "REDIS_URL", "PORT", "GUNICORN_PRELOAD", "GUNICORN_MAX_REQUESTS"):
        env.pop(name, None)
    stream = log.open("w")
    process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                               stdout=stream, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _answers(port), timeout=30)
        wait_for(lambda: len(child_pids(process.pid)) == 2, timeout=30)
        yield port, process.pid, slug, log
    finally:
        _stop_group(process)
        stream.close()


def _answers(port: int) -> bool:
    try:
        return _get(port, "/healthz")[0] == 200
    except OSError:
        return False


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass
    try:  # anything left in the group (a worker that outlived the master)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_sighup_under_load_drops_no_request(gunicorn):
    port, master, slug, log = gunicorn
    paths = ["/", f"/p/{slug}", "/healthz", "/feed.atom", f"/p/{slug}", "/"]
    assert _get(port, f"/p/{slug}")[0] == 200
    results: Counter = Counter()
    failures: list[str] = []
    spans: list[tuple[float, float]] = []  # (start, end) of every complete 200
    lock = threading.Lock()
    stop_at = time.monotonic() + LOAD_SECONDS

    def client(number: int, slow: bool) -> None:
        n = number
        while time.monotonic() < stop_at:
            path = paths[n % len(paths)]
            n += 1
            began = time.monotonic()
            try:
                status, body = (_slow_get if slow else _get)(port, path)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded
                with lock:
                    failures.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                results[status] += 1
                spans.append((began, time.monotonic()))
                if status != 200:
                    failures.append(f"{path}: HTTP {status}")
                elif path.startswith("/p/") and b"Served through a restart" not in body:
                    failures.append(f"{path}: 200 without the post")

    threads = [threading.Thread(target=client, args=(i, False), daemon=True) for i in range(CLIENTS)]
    threads += [threading.Thread(target=client, args=(i, True), daemon=True) for i in range(SLOW_CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    generations = [child_pids(master)]
    hups = []
    for at in HUP_AT:
        time.sleep(max(0.0, started + at - time.monotonic()))
        os.kill(master, signal.SIGHUP)
        hups.append(time.monotonic())
        # The master starts new workers at once; the old ones finish what they are serving, then exit.
        previous = set().union(*generations)
        generations.append(wait_for(lambda: (new := child_pids(master) - previous) and new, timeout=10))
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 2 * REQUEST_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)

    assert not failures, f"{len(failures)} failed of {sum(results.values()) + len(failures)}: {failures[:10]}"
    assert results[200] >= 40, results  # real load went through (about 120 on two busy cores)
    for hup in hups:  # and some of it was in flight at the very moment of each restart
        assert any(start < hup < end for start, end in spans), "no request spanned a SIGHUP"
    # Two restarts really happened: each time every worker was replaced, and the old ones are gone.
    wait_for(lambda: child_pids(master) == generations[-1] or None, timeout=35)
    assert len(generations) == 3 and all(len(g) >= 1 for g in generations)
    text = log.read_text()
    assert text.count("Handling signal: hup") == 2
    assert "WORKER TIMEOUT" not in text and "Traceback" not in text
