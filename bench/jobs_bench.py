"""Enqueue-to-finish latency of background jobs, measured against a real Redis and worker processes.

    .venv/bin/python bench/jobs_bench.py [--jobs 200] [--redis redis://127.0.0.1:6379/11]

Runs four workers one after another on a scratch SQLite database and a local SMTP server (aiosmtpd):
  1. ``rq worker`` (RQ's own command, no preloading) running the trivial job;
  2. ``python worker.py`` (app built and job modules imported before forking) running the trivial job;
  3. ``rq worker`` running the email job the naive way (bench/cold_job.py: each work-horse imports and
     builds the app, as it must without preloading) -- the "before";
  4. ``python worker.py`` running the email job (send over SMTP, record the delivery) -- the "after".
Jobs go one at a time (enqueue, wait until it ends), and latency is RQ's own ``ended_at - enqueued_at``.
Prints p50, p95 and max per run. Stops every process it starts and empties its Redis database.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def wait_for_worker(redis: Redis, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if redis.keys("rq:worker:*"):
            return
        time.sleep(0.05)
    raise SystemExit("worker did not start")


def run(label: str, command: list[str], env: dict, redis: Redis, jobs: list[tuple], queue: str) -> dict:
    redis.flushdb()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_worker(redis)
        q = Queue(queue, connection=redis)
        latencies = []
        for func, args in jobs:
            job = q.enqueue(func, *args)
            deadline = time.monotonic() + 60
            while job.get_status() not in ("finished", "failed"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{label}: job {job.id} did not finish")
                time.sleep(0.002)
            job.refresh()
            if job.get_status() != "finished":
                raise SystemExit(f"{label}: job failed: {job.exc_info}")
            latencies.append((job.ended_at - job.enqueued_at).total_seconds() * 1000)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        redis.flushdb()
    return {"label": label, "n": len(latencies), "p50": statistics.median(latencies),
            "p95": percentile(latencies, 0.95), "max": max(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400, help="trivial jobs per run; half as many emails per run")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    redis = Redis.from_url(args.redis)

    with tempfile.TemporaryDirectory(prefix="blog-jobs-bench-") as tmp:
        instance = Path(tmp)
        smtp = Sink()
        controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
        controller.start()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "INSTANCE_PATH": str(instance), "REDIS_URL": args.redis,
               "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(controller.port), "BLOG_ENV": "development"}
        env.pop("DATABASE_URL", None)
        os.environ.update({k: env[k] for k in ("INSTANCE_PATH", "REDIS_URL", "MAIL_SERVER", "MAIL_PORT")})
        from flask_migrate import upgrade

        from blog.app import create_app
        from blog.extensions import db
        from blog.jobs import diagnostics, email
        from blog.models.jobs import EmailDelivery

        app = create_app()
        keys = [uuid.uuid4().hex for _ in range(args.jobs)]
        with app.app_context():
            upgrade()
            db.session.add_all(EmailDelivery(idempotency_key=k, kind="bench", recipient="r@example.com",
                                             subject="Bench") for k in keys)
            db.session.commit()
        trivial = [(diagnostics.ping, ()) for _ in range(args.jobs)]
        half = len(keys) // 2
        cold_mails = [("cold_job.send_email_cold", (k, "r@example.com", "Bench", "Hello", "<p>Hello</p>"))
                      for k in keys[:half]]
        mails = [(email.send_email, (k, "r@example.com", "Bench", "Hello", "<p>Hello</p>")) for k in keys[half:]]
        results = []
        try:
            rq_bin = str(Path(sys.executable).parent / "rq")
            results.append(run("rq worker (no preload), trivial job", [rq_bin, "worker", "default", "--url", args.redis],
                               env, redis, trivial, "default"))
            results.append(run("worker.py (preloaded), trivial job", [sys.executable, "worker.py", "default"],
                               env, redis, trivial, "default"))
            cold_env = {**env, "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"}
            results.append(run("rq worker (no preload), email job", [rq_bin, "worker", "emails", "--url", args.redis],
                               cold_env, redis, cold_mails, "emails"))
            results.append(run("worker.py (preloaded), email job", [sys.executable, "worker.py", "emails"],
                               env, redis, mails, "emails"))
        finally:
            controller.stop()
        assert smtp.count == args.jobs, f"expected {args.jobs} emails, SMTP received {smtp.count}"

    print(f"enqueue-to-finish latency, sequential jobs (ms): {args.jobs} per trivial run, {args.jobs // 2} per email run")
    print(f"{'run':<42}{'p50':>9}{'p95':>9}{'max':>9}")
    for r in results:
        print(f"{r['label']:<42}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['max']:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
