"""Errors raised by services; views and the CLI turn them into responses and messages."""
from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``message`` is already translated for the person who will read it."""

    status_code = 400

    def __init__(self, message: str = ""):
        self.message = message
        super().__init__(message)


class NotFound(ServiceError):
    status_code = 404


class Moved(ServiceError):
    """The thing asked for lives elsewhere now (a post whose slug changed): answered with a 301."""

    status_code = 301

    def __init__(self, *, kind: str, slug: str):
        self.kind = kind
        self.slug = slug
        super().__init__(slug)


class PermissionDenied(ServiceError):
    status_code = 403


class Conflict(ServiceError):
    status_code = 409


class InvalidInput(ServiceError):
    """``errors`` maps a form field name (or ``"_"`` for the whole form) to its messages."""

    status_code = 422

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(m for msgs in errors.values() for m in msgs))
