"""Error pages in the site's layout, or JSON for clients that ask for it."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException, InternalServerError

from blog.exceptions import Moved, ServiceError
from blog.i18n import _
from blog.services.posts import forget_failed_transaction

log = logging.getLogger(__name__)


def _titles():
    return {
        400: _("Bad request"),
        403: _("You may not do that"),
        404: _("Page not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        413: _("That file is too large"),
        422: _("Check your input"),
        429: _("Too many requests"),
        500: _("Something went wrong"),
        503: _("Service unavailable"),
    }


def _messages():
    return {
        403: _("You do not have permission to see or change this."),
        404: _("We could not find what you were looking for. It may have moved or been unpublished."),
        500: _("An unexpected error happened on our side. It has been logged; please try again."),
    }


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def render_error(code: int, message: str | None = None):
    title = _titles().get(code, _("Error"))
    message = message or _messages().get(code, "")
    if _wants_json():
        return jsonify(error={"status": code, "title": title, "message": message}), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(Moved)
    def moved(exc: Moved):
        endpoint = "pages.page" if exc.kind == "page" else "public.post"
        return redirect(url_for(endpoint, slug=exc.slug), 301)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        return render_error(exc.status_code, exc.message or None)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.code == 500:
            return unexpected(exc)
        response = render_error(exc.code)
        if exc.code == 405:  # keep the Allow header
            body, code = response
            return body, code, {"Allow": ", ".join(exc.valid_methods or [])}
        return response

    @app.errorhandler(InternalServerError)
    def unexpected(exc: InternalServerError):
        # Flask reaches this after signalling got_request_exception, so error trackers still see it.
        original = getattr(exc, "original_exception", None)
        if original is not None:
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
        forget_failed_transaction()  # a failed statement must not also break the error page
        return render_error(500)
