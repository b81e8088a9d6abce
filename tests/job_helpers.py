"""Functions a real worker process imports and runs in the tests (they must live in an importable module)."""
from pathlib import Path

from flask import current_app


def write_marker(path: str, text: str) -> None:
    # current_app proves the worker pushed an app context for its jobs.
    Path(path).write_text(f"{text} from {current_app.name}")
