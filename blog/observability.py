"""Request ids and structured logs.

Every request gets an id: the proxy's ``X-Request-ID`` when it looks sane, otherwise a new one. It is
echoed in the response, attached to every log line of the request, and carried into the jobs the request
enqueues, so a job's log lines carry it too. Production logs are one JSON object per line; development
logs are readable text.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request

from blog import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CONTEXT_FIELDS = ("request_id", "user_id", "path", "status", "duration_ms", "job_id")


def current_request_id() -> str | None:
    """The id of the request or job being handled, if any."""
    if has_request_context():
        return getattr(g, "request_id", None)
    job = _current_job()
    return job.meta.get("request_id") if job is not None else None


def _current_job():
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover
        return None
    return get_current_job()


class ContextFilter(logging.Filter):
    """Adds the request id, user id and path (or the job id) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(record, "request_id", None) or getattr(g, "request_id", None)
            record.path = getattr(record, "path", None) or request.path
            if getattr(record, "user_id", None) is None:
                user = g.get("_login_user")  # never load a user just to log
                record.user_id = user.id if user is not None and getattr(user, "is_authenticated", False) else None
        else:
            job = _current_job()
            if job is not None:
                record.job_id = job.id
                record.request_id = getattr(record, "request_id", None) or job.meta.get("request_id")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and whatever context the record carries."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id") or record.request_id is None:
            record.request_id = "-"
        return super().format(record)


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Route the root logger to stderr with the chosen format and the context filter (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_blog", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._blog = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)


_request_log = logging.getLogger("blog.request")


def request_id(incoming: str | None) -> str:
    """The proxy's request id when it is a sane one, else a new one."""
    return incoming if incoming and _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex


def record_request(app: Flask, *, method: str, path: str, endpoint: str | None, status: int, seconds: float,
                   **context) -> None:
    """Count and time an answered request, and log its line (LOG_REQUESTS). ``context`` adds fields to
    the line where no request context can (``request_id`` for an answer given before Flask)."""
    endpoint = endpoint or "unmatched"
    metrics.REQUESTS.labels(endpoint=endpoint, method=method, status=status).inc()
    metrics.LATENCY.labels(endpoint=endpoint).observe(seconds)
    if app.config.get("LOG_REQUESTS"):
        _request_log.info("%s %s %s", method, path, status,
                          extra={"status": status, "duration_ms": round(seconds * 1000, 2), "path": path, **context})


def init_app(app: Flask) -> None:
    @app.before_request
    def _start():
        g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        request_id = getattr(g, "request_id", None)
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = getattr(g, "request_started", None)
        if started is not None:
            record_request(app, method=request.method, path=request.path, endpoint=request.endpoint,
                           status=response.status_code, seconds=time.perf_counter() - started)
        return response

    if not app.testing:
        configure_logging(json_lines=app.config.get("LOG_FORMAT") == "json")
