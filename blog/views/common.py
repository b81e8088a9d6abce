"""Helpers shared by the views."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from flask import Request, abort, request
from flask_login import current_user

from blog.services.pagination import MAX_PAGE
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.utils import cached_property

_PAGE = re.compile(r"[0-9]{1,6}")


class CleanRequest(Request):
    """The request class: query values never carry NUL, which PostgreSQL refuses in text (as form fields,
    see :mod:`blog.views.forms`, they become U+FFFD), so a hostile query string is never a 500."""

    @cached_property
    def args(self) -> ImmutableMultiDict:
        raw = super().args
        return ImmutableMultiDict([(key, value.replace("\x00", "\ufffd")) for key, value in raw.items(multi=True)])


def page_arg() -> int:
    """The ``page`` query parameter as a positive whole number; anything else is a 404, never a 500."""
    raw = request.args.get("page", "1")
    if not _PAGE.fullmatch(raw):  # ASCII digits only: str.isdigit() also accepts "２" and "²"
        abort(404)
    page = int(raw)
    if page < 1 or page > MAX_PAGE:
        abort(404)
    return page


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default``.

    Refuses absolute and scheme-relative URLs (``https://x``, ``//x``, ``https:x``), backslash tricks
    that browsers read as ``//`` (``/\\x``), control characters, dot segments (a browser turns
    ``/..//x`` into the path ``//x``, which the next redirect could misread), and their
    percent-encoded forms.
    """
    if not target:
        return default
    for candidate in (target, unquote(target)):
        if any(ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in candidate):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc or not candidate.startswith("/") or candidate.startswith("//"):
            return default
        if any(segment in (".", "..") for segment in parts.path.split("/")):
            return default
    return target


def acting_user():
    """The signed-in user object itself, not Flask-Login's proxy, to hand to services.

    A proxy handed back to ``login_user`` would make ``current_user`` resolve to itself.
    """
    return current_user._get_current_object()


def viewer():
    """The signed-in user object, or ``None`` for an anonymous visitor (for services that read)."""
    return acting_user() if current_user.is_authenticated else None
