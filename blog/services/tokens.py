"""Signed, expiring, single-purpose tokens for links sent by email.

Each purpose has its own salt (a reset token cannot confirm an address) and binds the token to the
state it changes, so a token works once: a reset token carries a fingerprint of the current password
hash, a confirmation token one of the address it confirms.
"""
from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CONFIRM_EMAIL = "confirm-email"
RESET_PASSWORD = "reset-password"
CHANGE_EMAIL = "change-email"
MAX_AGE = {CONFIRM_EMAIL: 2 * 24 * 3600, RESET_PASSWORD: 3600, CHANGE_EMAIL: 24 * 3600}


class TokenInvalid(Exception):
    """Tampered with, made for another purpose, or already used."""


class TokenExpired(TokenInvalid):
    pass


def fingerprint(value: str | None) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()[:20]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"blog.tokens.{purpose}")


def make(purpose: str, payload: dict) -> str:
    """Sign ``payload`` for ``purpose``."""
    if purpose not in MAX_AGE:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str, *, now: float | None = None) -> dict:
    """The payload of ``token``. Raises TokenExpired past the purpose's lifetime, TokenInvalid otherwise."""
    serializer = _serializer(purpose)
    try:
        if now is None:
            return serializer.loads(token, max_age=MAX_AGE[purpose])
        payload, signed_at = serializer.loads(token, return_timestamp=True)
    except SignatureExpired as exc:
        raise TokenExpired(purpose) from exc
    except BadSignature as exc:
        raise TokenInvalid(purpose) from exc
    if now - signed_at.timestamp() > MAX_AGE[purpose]:
        raise TokenExpired(purpose)
    return payload
