"""Signed-in reader pages from a cached shell, with the reader's own parts rendered per request (issue 12).

A signed-in reader sees the same post list, article or search results as everyone else in their language
and time zone; only a few regions of the page are theirs: the account links in the header (with the
sign-out form's CSRF token), notices and flashed messages, and a post's comments (their own pending
comments and the comment form). Templates mark those regions with ``{% call viewer_region(name, *args) %}``.

On a miss the page renders as usual, with each region wrapped in markers carrying a per-request random
nonce (so no post or comment text can pass for one). If the view declared the page the same for every
reader (``shareable()``: a published post, any listing or search), the page is stored in the page cache
as a shell: the text between the regions, and the name and arguments of each region, as JSON. The key
holds the locale, the time zone and the page key the anonymous cache uses, under the same content
version, so any change readers can see makes every shell stale at once.

Outside the regions a shell may depend on what the reader may do, never on who they are: the key also
holds whether the reader may comment (the comment form, or the "confirm your address" notice, is part of
the shell). A form in the shared part takes its CSRF token from ``csrf_field()``, itself a region; a
shell that would carry the token of the reader it was rendered for is not stored.

On a hit only the regions are rendered, each from its own template with the usual template context: no
listing query, no post cards. The answer is private (no ETag, no public caching), as signed-in pages are.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, g, request
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from blog import page_cache, permissions
from blog.views.caching import HEADER, RATIONED, cache_key

SHELL_PREFIX = "viewer:"  # after page_cache.PAGE_PREFIX; anonymous keys start with a locale, never this
# Endpoints whose pages are the same for every signed-in reader outside their regions.
SHELL_ENDPOINTS = frozenset({"public.index", "public.tag", "public.author", "public.post", "public.archive",
                             "public.archive_month", "search.results", "pages.page"})
CONTENT_TYPE = "text/html; charset=utf-8"
# A reader's own page: no shared cache may keep it, and the browser asks again each time.
CACHE_CONTROL = "private, no-cache"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Region:
    template: str
    # The marker's arguments -> the template's own variables (besides the usual template context).
    context: Callable[..., dict]


REGIONS: dict[str, Region] = {}


def region(name: str, template: str, context: Callable[..., dict] | None = None) -> None:
    """Declare the region ``name``: its template, and how its variables come from the marker's arguments."""
    REGIONS[name] = Region(template, context or (lambda: {}))


region("account", "_viewer/account.html")
region("notices", "_viewer/notices.html")
region("csrf_field", "_viewer/csrf_field.html")


@dataclass
class _Recording:
    key: str
    version: bytes
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    shareable: bool = False
    open_region: str | None = None


def viewer_region(name: str, *args, caller) -> Markup:
    """Template global: the region's content, between markers while a shell is being recorded."""
    recording: _Recording | None = g.get("_shell")
    if recording is None:
        return caller()
    if recording.open_region is not None:
        raise RuntimeError(f"viewer region {name!r} is inside region {recording.open_region!r}: regions do not nest")
    recording.open_region = name
    try:
        content = caller()
    finally:
        recording.open_region = None
    return _marked(recording, name, args, content)


def _marked(recording: _Recording, name: str, args, content) -> Markup:
    call = json.dumps([name, *args], separators=(",", ":"))
    return Markup(f"<!--{recording.nonce}:{call}-->") + content + Markup(f"<!--/{recording.nonce}-->")


def csrf_field() -> Markup:
    """Template global: a form's hidden CSRF token input; a region of its own outside the other regions,
    so that a form in a shell's shared part gets each reader's own token."""
    field = Markup('<input type="hidden" name="csrf_token" value="%s">') % generate_csrf()
    recording: _Recording | None = g.get("_shell")
    if recording is None or recording.open_region is not None:
        return field
    return _marked(recording, "csrf_field", (), field)


def shareable() -> None:
    """Views call this when the page they render is the same for every reader outside the regions."""
    recording: _Recording | None = g.get("_shell")
    if recording is not None:
        recording.shareable = True


def _key() -> str:
    anonymous = cache_key(request.endpoint, str(get_locale()), request.path, request.args)
    may_comment = "c" if permissions.can_comment(current_user) else "u"
    return f"{SHELL_PREFIX}{may_comment}:{get_timezone()}:{anonymous}"


def serve_shell():
    if (request.method not in ("GET", "HEAD") or request.endpoint not in SHELL_ENDPOINTS
            or not page_cache.enabled() or not current_user.is_authenticated):
        return None
    key = _key()
    page, version = page_cache.lookup(key)
    if page is None:
        if version is not None:
            g._shell = _Recording(key, version)
        return None
    try:
        body = _fill(json.loads(page.body))
    except Exception:  # noqa: BLE001 - a shell another release wrote (a region renamed...): render anew
        log.exception("page shell %s could not be filled; rendering the page instead", key)
        g._shell = _Recording(key, version)
        return None
    response = Response(body, content_type=CONTENT_TYPE)
    response.headers[HEADER] = "shell-hit"
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def _fill(parts: list) -> str:
    """The page for this reader: the shell's text with each region rendered."""
    app = current_app._get_current_object()
    context: dict = {}
    app.update_template_context(context)
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            name, *args = part
            chosen = REGIONS[name]
            out.append(app.jinja_env.get_template(chosen.template).render({**context, **chosen.context(*args)}))
    return "".join(out)


def _split(body: str, nonce: str) -> tuple[list, str]:
    """``(shell parts, body without markers)``."""
    marker = re.compile(rf"<!--{nonce}:(.*?)-->(.*?)<!--/{nonce}-->", re.S)
    parts: list = []
    plain: list[str] = []
    start = 0
    for found in marker.finditer(body):
        parts += [body[start:found.start()], json.loads(found.group(1))]
        plain += [body[start:found.start()], found.group(2)]
        start = found.end()
    parts.append(body[start:])
    plain.append(body[start:])
    return parts, "".join(plain)


def store_shell(response: Response) -> Response:
    recording: _Recording | None = g.pop("_shell", None)
    if recording is None or response.direct_passthrough or not response.mimetype == "text/html":
        return response
    parts, plain = _split(response.get_data(as_text=True), recording.nonce)
    if recording.nonce in plain:  # a marker the split could not pair (escaped by a filter, say)
        log.error("unpaired viewer region marker on %s: the page is not stored as a shell", request.path)
        plain = re.sub(rf"<!--/?{recording.nonce}[^>]*-->", "", plain)
        recording.shareable = False
    token = g.get("csrf_token")  # Flask-WTF's signed token, once this request made one
    if token and any(isinstance(part, str) and token in part for part in parts):
        log.error("a CSRF token outside the viewer regions of %s (a form without csrf_field()?): the page is "
                  "not stored as a shell", request.path)
        recording.shareable = False
    response.set_data(plain)  # the reader's own page carries no markers
    response.headers["Cache-Control"] = CACHE_CONTROL
    if response.status_code == 200 and recording.shareable:
        body = json.dumps(parts, separators=(",", ":")).encode()
        page_cache.store(recording.key, recording.version, page_cache.CachedPage("", CONTENT_TYPE, body),
                         rationed=request.endpoint in RATIONED)
        response.headers[HEADER] = "shell-miss"
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals["viewer_region"] = viewer_region
    app.jinja_env.globals["csrf_field"] = csrf_field
    app.before_request(serve_shell)
    app.after_request(store_shell)
