"""Serves media for the local storage backend through signed, expiring URLs."""
from flask import Blueprint, request, send_file

from blog.services import media

bp = Blueprint("media", __name__)


@bp.get("/media/<path:key>")
def read(key):
    found = media.open_signed(
        key=key, expires=request.args.get("expires", ""), signature=request.args.get("signature", "")
    )
    response = send_file(found.stream, mimetype=found.content_type, max_age=found.seconds_left, etag=False)
    response.headers["Content-Disposition"] = "inline" if found.inline else "attachment"
    response.headers["Cache-Control"] = f"private, max-age={found.seconds_left}"
    return response
