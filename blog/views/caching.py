"""HTTP caching of reader pages: the anonymous page cache (blog/page_cache.py) and ETags with 304s.

Only anonymous GETs of the reading endpoints are cached: no session user, no remember-me cookie, no
flashed message waiting, and a response that sets no cookie. The key is the locale, the path and the
``page`` argument (the only query argument these views read), so made-up query strings cannot fill
Redis with copies.
"""
from __future__ import annotations

import hashlib

from flask import Flask, Response, current_app, g, request, session
from flask_babel import get_locale

from blog import page_cache

CACHED_ENDPOINTS = frozenset({
    "public.index", "public.post", "public.tag", "public.author", "public.archive", "public.archive_month",
    "pages.page", "feeds.site", "feeds.tag", "feeds.author", "feeds.sitemap", "feeds.sitemap_page",
    "feeds.robots",
})
KEY_ARGS = ("page",)
HEADER = "X-Page-Cache"


def _anonymous() -> bool:
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return "_user_id" not in session and "_flashes" not in session and remember not in request.cookies


def _key() -> str:
    args = "&".join(f"{name}={request.args[name]}" for name in KEY_ARGS if name in request.args)
    return f"{get_locale()}:{request.path}?{args}"


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _cacheable_request() -> bool:
    return (request.method in ("GET", "HEAD") and request.endpoint in CACHED_ENDPOINTS
            and page_cache.enabled() and _anonymous())


def serve_from_cache():
    if not _cacheable_request():
        return None
    key = _key()
    page, version = page_cache.lookup(key)
    if page is None:
        if version is not None:
            g.page_cache = (key, version)
        return None
    response = Response(page.body, content_type=page.content_type)
    response.set_etag(page.etag)
    response.headers[HEADER] = "hit"
    _public(response)
    return response.make_conditional(request)


def _public(response: Response) -> None:
    # Shared caches may keep it but must ask again (the ETag makes that a 304): content can change any time.
    response.headers["Cache-Control"] = "public, no-cache"
    response.vary.update(("Cookie", "Accept-Language"))


def store_in_cache(response: Response) -> Response:
    pending = g.pop("page_cache", None)
    if pending is None or response.status_code != 200 or response.direct_passthrough or session.modified:
        return response
    key, version = pending
    body = response.get_data()
    etag = response.get_etag()[0] or _etag(body)
    page_cache.store(key, version, page_cache.CachedPage(etag, response.content_type, body))
    response.set_etag(etag)
    response.headers[HEADER] = "miss"
    _public(response)
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    page_cache.init_app(app)
    app.before_request(serve_from_cache)
    app.after_request(store_in_cache)
