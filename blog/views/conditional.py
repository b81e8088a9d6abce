"""Conditional GET: answer ``304 Not Modified`` when the client's copy is current, without building the body.

A view asks a service for a cheap version of what it shows (an ETag token and a Last-Modified time, from
one aggregate query) and passes a function that builds the full response only when it is needed::

    return conditional.respond(source.version(), lambda: render_template(...), max_age=300)
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Protocol

from flask import Response, make_response, request
from werkzeug.http import is_resource_modified


class Versioned(Protocol):
    etag: str  # an opaque token, without quotes
    last_modified: datetime | None


def respond(version: Versioned, build: Callable[[], object], *, max_age: int, mimetype: str | None = None,
            private: bool = False) -> Response:
    """``build()``'s response with ``ETag``, ``Last-Modified`` and ``Cache-Control``, or an empty 304 when the
    request's ``If-None-Match`` (which wins, as RFC 9110 says) or ``If-Modified-Since`` shows the client
    already has this version.

    The ETag is weak: it names the content, not its bytes (a proxy that compresses keeps it valid).
    """
    etag = f'W/"{version.etag}"'
    if request.method in ("GET", "HEAD") and not is_resource_modified(
            request.environ, etag=etag, last_modified=version.last_modified):
        response = Response(status=304)
    else:
        response = make_response(build())
        if mimetype:
            response.mimetype = mimetype
    response.set_etag(version.etag, weak=True)
    if version.last_modified is not None:
        response.last_modified = version.last_modified
    if private:
        response.cache_control.private = True
    else:
        response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response
