"""Helpers shared by the views."""
from __future__ import annotations

import re

from flask import abort, request

from blog.services.posts import MAX_PAGE

_PAGE = re.compile(r"[0-9]{1,6}")


def page_arg() -> int:
    """The ``page`` query parameter as a positive whole number; anything else is a 404, never a 500."""
    raw = request.args.get("page", "1")
    if not _PAGE.fullmatch(raw):  # ASCII digits only: str.isdigit() also accepts "２" and "²"
        abort(404)
    page = int(raw)
    if page < 1 or page > MAX_PAGE:
        abort(404)
    return page
