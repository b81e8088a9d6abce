"""A trivial job: proves a worker picks jobs up (``flask jobs ping``, the tests and the benchmark)."""
from __future__ import annotations

import time
from pathlib import Path


def ping(marker: str | None = None, sleep: float = 0.0) -> str:
    """Optionally wait ``sleep`` seconds, append a line to the file ``marker`` when given, return "pong"."""
    if sleep:
        time.sleep(sleep)
    if marker:
        with Path(marker).open("a") as f:
            f.write("pong\n")
    return "pong"


def fail(message: str = "failed on purpose") -> None:
    """Always raises: lets operators and tests see the failed-job path end to end."""
    raise RuntimeError(message)
