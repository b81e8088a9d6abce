"""The RQ worker: ``python worker.py [QUEUE ...]`` (default: emails media default, in priority order).

Builds the app once and pushes one app context, and imports the job modules before forking, so each
work-horse starts with Flask, SQLAlchemy and the job code already loaded. Runs the RQ scheduler so
retries with intervals and scheduled jobs fire. SIGTERM is a warm shutdown: the current job finishes.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path(__file__).resolve().parent / ".env")

import blog.jobs  # noqa: E402,F401  (preload: forked work-horses must not re-import per job)
from blog.app import create_app  # noqa: E402
from blog.jobs.queue import QUEUES, get_queue, redis_connection  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queues", nargs="*", default=list(QUEUES), help=f"queue names (from {', '.join(QUEUES)})")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    unknown = [q for q in args.queues if q not in QUEUES]
    if unknown:
        parser.error(f"unknown queue(s): {', '.join(unknown)}; choose from {', '.join(QUEUES)}")

    app = create_app()
    with app.app_context():
        connection = redis_connection()
        if connection is None:
            print("REDIS_URL is not set: jobs run inline in the web process; no worker is needed.", file=sys.stderr)
            return 2
        from rq import Worker

        worker = Worker([get_queue(name) for name in args.queues], connection=connection)
        logging.getLogger("rq.worker").setLevel(logging.INFO)
        worker.work(with_scheduler=True, burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
