"""The RQ worker: ``python worker.py [QUEUE ...]`` (default: emails media default, in priority order).

Builds the app once, pushes one app context and imports the job modules before forking, so each
work-horse starts with Flask, SQLAlchemy, boto3, Pillow and the job code already loaded. Runs the RQ
scheduler so retries with intervals and scheduled jobs fire, and a thread that moves jobs kept in the
outbox (while Redis was down) back to Redis. SIGTERM is a warm shutdown: the current job finishes.
Each work-horse may use at most ``--memory-limit-mb`` of memory beyond what it inherits: a job that
needs more gets ``MemoryError`` instead of the host's out-of-memory killer choosing a victim.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import sys
import threading
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path(__file__).resolve().parent / ".env")

import blog.jobs.diagnostics  # noqa: E402,F401  (preloaded: forked work-horses must not re-import per job)
import blog.jobs.email  # noqa: E402,F401
import blog.jobs.images  # noqa: E402,F401  (Pillow and boto3 come with it)
from sqlalchemy import orm as sa_orm  # noqa: E402

from blog.app import create_app  # noqa: E402
from blog.extensions import db  # noqa: E402
from blog.jobs.queue import QUEUES, flush_outbox, get_queue, redis_connection  # noqa: E402
from rq import Worker  # noqa: E402

log = logging.getLogger("blog.worker")
SWEEP_SECONDS = 30
# Address space a work-horse may add to what it has when forked. The costliest accepted image (40
# megapixels of RGBA WebP) peaks near 1.1 GB with Pillow 13; Pillow's pixel limit is what bounds that,
# and this limit is the fence behind it (a decoder bug, a leak, an unexpected code path).
MEMORY_LIMIT_MB = 2048


def limit_address_space(extra_bytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS) at its current size plus ``extra_bytes``.

    Relative to the current size because a forked work-horse inherits the mappings of its parent's
    threads and libraries, which it never touches. Linux only (elsewhere it does nothing).
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return
    found = re.search(r"^VmSize:\s+(\d+) kB", status, re.M)
    if found is None:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(found.group(1)) * 1024 + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class BoundedWorker(Worker):
    """RQ's forking worker; each work-horse limits its own memory before it runs its job."""

    memory_limit_mb = MEMORY_LIMIT_MB

    def main_work_horse(self, job, queue):
        if self.memory_limit_mb > 0:  # in the forked child only: the worker itself stays unlimited
            limit_address_space(self.memory_limit_mb * 1024 * 1024)
        super().main_work_horse(job, queue)


def sweep_outbox(app, stop: threading.Event, every: float) -> None:
    """Every ``every`` seconds, move jobs that waited in the outbox while Redis was down."""
    while not stop.wait(every):
        try:
            with app.app_context():
                moved, left = flush_outbox()
                db.session.remove()
            if moved or left:
                log.info("outbox sweep: moved %d job(s), %d left", moved, left)
        except Exception:  # keep sweeping: the next round may find Redis or the database back
            log.exception("outbox sweep failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queues", nargs="*", default=list(QUEUES), help=f"queue names (from {', '.join(QUEUES)})")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--sweep-seconds", type=float, default=SWEEP_SECONDS,
                        help="how often to move outbox jobs to Redis (default %(default)s)")
    parser.add_argument("--memory-limit-mb", type=int, default=MEMORY_LIMIT_MB,
                        help="memory each job may use beyond the worker's own, in MB; 0: no limit "
                             "(default %(default)s)")
    args = parser.parse_args(argv)
    unknown = [q for q in args.queues if q not in QUEUES]
    if unknown:
        parser.error(f"unknown queue(s): {', '.join(unknown)}; choose from {', '.join(QUEUES)}")

    app = create_app()  # also routes logs (JSON in production) with request and job ids
    with app.app_context():
        connection = redis_connection()
        if connection is None:
            print("REDIS_URL is not set: jobs run inline in the web process; no worker is needed.", file=sys.stderr)
            return 2
        # Work the forked work-horses would otherwise redo for every job: mapper configuration.
        sa_orm.configure_mappers()
        # A forked work-horse must not reuse the parent's database connections (the sweep thread uses them).
        engine = db.engine
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        stop = threading.Event()
        sweeper = threading.Thread(target=sweep_outbox, args=(app, stop, args.sweep_seconds), daemon=True,
                                   name="outbox-sweep")
        sweeper.start()
        worker = BoundedWorker([get_queue(name) for name in args.queues], connection=connection)
        worker.memory_limit_mb = args.memory_limit_mb
        try:
            worker.work(with_scheduler=True, burst=args.burst)
        finally:
            stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
