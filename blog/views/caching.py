"""HTTP caching of reader pages: the anonymous page cache (blog/page_cache.py) and ETags with 304s.

Only anonymous GETs of the reading endpoints are cached: no session user, no remember-me cookie, no
flashed message waiting, and a response that sets no cookie. The key is the locale, the path and the
query arguments the view reads (``KEY_ARGS``), so made-up query strings share one copy; search pages, whose queries visitors type freely, are stored at most SEARCH_CACHE_PER_MINUTE
times a minute.
"""
from __future__ import annotations

import hashlib
from urllib.parse import quote, urlencode

from flask import Flask, Response, current_app, g, request, session
from flask_babel import get_locale

from blog import page_cache

# Every cached endpoint, with the query arguments its view reads: the key holds those and no others, so a
# made-up argument (``?page=7`` on a post, ``?utm_source=``) never makes another copy.
KEY_ARGS: dict[str, tuple[str, ...]] = {
    "public.index": ("page",), "public.tag": ("page",), "public.author": ("page",),
    "public.archive_month": ("page",), "search.results": ("q", "page"),
    "public.post": (), "public.archive": (), "pages.page": (), "feeds.site": (), "feeds.tag": (),
    "feeds.author": (), "feeds.sitemap": (), "feeds.sitemap_page": (), "feeds.robots": (),
}
CACHED_ENDPOINTS = frozenset(KEY_ARGS)
# Endpoints whose keys visitors choose freely (any search query): new copies are rationed per minute
# (SEARCH_CACHE_PER_MINUTE), so made-up queries cannot fill Redis, which also holds the job queues.
RATIONED = frozenset({"search.results"})
HEADER = "X-Page-Cache"


def _anonymous() -> bool:
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return "_user_id" not in session and "_flashes" not in session and remember not in request.cookies


def kept_query(endpoint: str, args) -> str:
    """The query string of the arguments a cached endpoint's view reads (``args``: a mapping), escaped."""
    return urlencode([(name, args[name]) for name in KEY_ARGS[endpoint] if name in args])


def cache_key(endpoint: str, locale: str, path: str, args) -> str:
    """The page's key: locale, path and the arguments its view reads, each escaped, so no path or value
    can pass for another (``?q=a%26page%3D2`` is not ``?q=a&page=2``)."""
    return f"{locale}:{quote(path, safe='/')}?{kept_query(endpoint, args)}"


def _key() -> str:
    return cache_key(request.endpoint, str(get_locale()), request.path, request.args)


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


# Shared caches may keep a page but must ask again (the ETag makes that a 304): content can change any time.
CACHE_CONTROL = "public, no-cache"
VARY = ("Cookie", "Accept-Language")
PUBLIC_HEADERS = (("Cache-Control", CACHE_CONTROL), ("Vary", ", ".join(VARY)))


def _public(response: Response) -> None:
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.vary.update(VARY)  # with whatever else the response varies on


def store_in_cache(response: Response) -> Response:
    pending = g.pop("page_cache", None)
    if pending is None or response.status_code != 200 or response.direct_passthrough or session.modified:
        return response
    key, version = pending
    body = response.get_data()
    etag = response.get_etag()[0] or _etag(body)
    page_cache.store(key, version, page_cache.CachedPage(etag, response.content_type, body),
                     rationed=request.endpoint in RATIONED)
    response.set_etag(etag)
    response.headers[HEADER] = "miss"
    _public(response)
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    page_cache.init_app(app)
    app.before_request(serve_from_cache)
    app.after_request(store_in_cache)
