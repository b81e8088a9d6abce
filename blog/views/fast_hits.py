"""Page-cache hits answered before Flask's request machinery (issue 12).

A hit served through Flask cost about three times a bare "hello" app: the request context, the session,
Babel, Flask-Limiter's check and the after-request hooks all ran to copy bytes out of Redis. This WSGI
layer answers the plain case itself: a GET or HEAD for a cached endpoint, from a visitor with no session
or remember-me cookie, on a trusted host, whose page is current in Redis. It gives the same answer the
Flask path gives (body, ETag and 304, Cache-Control, Vary, the security headers, the request id) and
counts and logs the request the same way (``observability.record_request``).

Everything else goes to Flask untouched: other endpoints and methods, cookies (the session may hold a user
or a flashed message), untrusted hosts (Flask answers 400), misses, pages due to change, a Redis error.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from flask import Flask
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.http import http_date, is_resource_modified
from werkzeug.wsgi import get_host

from blog import observability, page_cache
from blog.i18n import LOCALE_COOKIE, anonymous_locale
from blog.views.caching import CACHED_ENDPOINTS, HEADER, PUBLIC_HEADERS, cache_key

StartResponse = Callable[..., object]
# Requests that ask for part of a page or set a precondition: Flask's make_conditional answers those.
PASSED_ON_HEADERS = ("HTTP_RANGE", "HTTP_IF_RANGE", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE",
                     "HTTP_IF_UNMODIFIED_SINCE")
log = logging.getLogger(__name__)


class FastHits:
    """WSGI middleware around ``app.wsgi_app``; ``headers`` are the app's security headers."""

    def __init__(self, app: Flask, wsgi_app, headers: Mapping[str, str]):
        self.app = app
        self.wsgi_app = wsgi_app
        self.security_headers = list(headers.items())
        self.trusted_hosts = app.config.get("TRUSTED_HOSTS")
        self.locales = tuple(app.config["LANGUAGES"])
        self.default_locale = app.config["BABEL_DEFAULT_LOCALE"]
        self.cookies_of_a_session = {app.config["SESSION_COOKIE_NAME"],
                                     app.config.get("REMEMBER_COOKIE_NAME", "remember_token")}

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            answer = self._hit(environ)
        except Exception:  # noqa: BLE001 - whatever went wrong here, Flask can still answer
            log.exception("page cache: the early answer failed; Flask answers instead")
            answer = None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        endpoint, path, page = answer
        request_id = observability.request_id(environ.get("HTTP_X_REQUEST_ID"))
        # The same rule as Flask's make_conditional: a weak comparison of If-None-Match.
        not_modified = not is_resource_modified(environ, etag=page.etag)
        headers = [("ETag", f'"{page.etag}"'), ("Date", http_date()), *PUBLIC_HEADERS, (HEADER, "hit"),
                   (observability.REQUEST_ID_HEADER, request_id), *self.security_headers]
        if not not_modified:
            headers[:0] = [("Content-Type", page.content_type), ("Content-Length", str(len(page.body)))]
        start_response("304 NOT MODIFIED" if not_modified else "200 OK", headers)
        method = environ["REQUEST_METHOD"]
        observability.record_request(self.app, method=method, path=path, endpoint=endpoint,
                                     status=304 if not_modified else 200, seconds=time.perf_counter() - started,
                                     request_id=request_id)
        return [] if not_modified or method == "HEAD" else [page.body]

    def _hit(self, environ: dict) -> tuple[str, str, page_cache.CachedPage] | None:
        """(endpoint, path, page) when this request is a plain cache hit, else None."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or any(
                name in environ for name in PASSED_ON_HEADERS):
            return None
        # The app's own request class parses the path, query, cookies and languages exactly as Flask will.
        request = self.app.request_class(environ)
        if self.cookies_of_a_session.intersection(request.cookies):
            return None
        try:
            get_host(environ, self.trusted_hosts)
            endpoint, _args = self.app.url_map.bind_to_environ(environ).match(method=request.method)
        except (HTTPException, SecurityError):  # redirects, 404s, 405s and bad hosts are Flask's to answer
            return None
        if endpoint not in CACHED_ENDPOINTS:
            return None
        locale = anonymous_locale(request.cookies.get(LOCALE_COOKIE), request.accept_languages, self.locales,
                                  self.default_locale)
        page = page_cache.peek(self.app, cache_key(endpoint, locale, request.path, request.args))
        return (endpoint, request.path, page) if page is not None else None
