"""Abuse controls: Flask-Limiter limits on sign-in, the second sign-in step, password reset requests,
registration and comments, and the 429 page each answers with.

The limits live here, in the view layer, because every key is a property of the request (the client's
address, the login name typed, the session's pending sign-in, the signed-in user); services never see the
request. Counters are kept in Redis when REDIS_URL is set (keys prefixed ``limiter:``) and in the
process's memory otherwise; if Redis stops answering, the limits carry on in memory and the error is
logged, so sign-in keeps working.

Per-account sign-in limits count only failures (``deduct_when``), keyed by the login name as typed
(normalized), so an unknown name is counted exactly like a real one and a limit reveals nothing about
which accounts exist. Per-address limits count every attempt; a request refused by one limit is not
counted against the others.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app, g, make_response, request, session
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user

from blog.i18n import ngettext

# Unbound, like the extensions in blog/extensions.py (views may not import that module: it holds the
# database). A moving window counts the last N minutes exactly, with no burst at a window's edge.
limiter = Limiter(key_func=get_remote_address, strategy="moving-window", swallow_errors=True,
                  in_memory_fallback_enabled=True)
REDIS_KEY_PREFIX = "limiter"
PENDING_SIGN_IN = "two_factor"  # the session key of a sign-in waiting for its second step


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    app.config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    # Short timeouts: a Redis that does not answer must not hold a sign-in page for long.
    app.config["RATELIMIT_STORAGE_OPTIONS"] = (
        {"key_prefix": REDIS_KEY_PREFIX, "socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {})
    # One limiter serves every app built in this process (the tests build several): start each one on its
    # own storage rather than on the in-memory fallback a previous app may have switched to.
    limiter._storage_dead = False
    limiter._storage_options = {}
    limiter.init_app(app)


@limiter.request_filter
def _disabled() -> bool:
    # Per app, not per process: RATELIMIT_ENABLED of the app serving this request decides.
    return not current_app.config.get("RATELIMIT_ENABLED", True)


# ---- keys -------------------------------------------------------------------------------------------

def _ip() -> str:
    address = get_remote_address()
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address}"
    if parsed.version == 6:  # one subscriber usually holds a whole /64: count it as one address
        return f"ip:{ipaddress.ip_network(f'{parsed}/64', strict=False)}"
    return f"ip:{parsed}"


def _typed(field: str) -> str:
    # Hashed: what people type here (sometimes a password by mistake) stays out of Redis and the logs.
    value = (request.form.get(field) or "").strip().lower()
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _login_name() -> str:
    return f"login:{_typed('login')}"


def _reset_email() -> str:
    return f"email:{_typed('email')}"


def _pending_user() -> str:
    pending = session.get(PENDING_SIGN_IN) or {}
    return f"pending-user:{pending.get('uid', 'none')}"


def _signed_in_user() -> str:
    return f"user:{current_user.id if current_user.is_authenticated else 'anonymous'}"


def record_failure() -> None:
    """Count this request against the limits that count only failures (a wrong password or code)."""
    g.throttle_failure = True


def _failed(_response) -> bool:
    return bool(g.get("throttle_failure"))


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _limit(setting: str, key: Callable[[], str], *, failures_only: bool = False):
    return limiter.limit(_setting(setting), key_func=key, methods=["POST"],
                         deduct_when=_failed if failures_only else None)


SIGN_IN = (_limit("LOGIN_LIMIT_IP", _ip), _limit("LOGIN_LIMIT_ACCOUNT", _login_name, failures_only=True))
SECOND_STEP = (_limit("LOGIN_LIMIT_IP", _ip), _limit("LOGIN_LIMIT_ACCOUNT", _pending_user, failures_only=True))
RESET_REQUEST = (_limit("RESET_LIMIT_IP", _ip), _limit("RESET_LIMIT_EMAIL", _reset_email))
REGISTER = (_limit("REGISTER_LIMIT_IP", _ip),)
COMMENT = (_limit("COMMENT_LIMIT_IP", _ip), _limit("COMMENT_LIMIT_USER", _signed_in_user))
# Wrong passwords and codes on the settings forms that ask for them (password, email address, two-factor),
# counted together for the signed-in user: a borrowed session cannot guess the password through them.
PASSWORD_CHECKS = (limiter.shared_limit(_setting("LOGIN_LIMIT_ACCOUNT"), scope="settings-password-checks",
                                            key_func=_signed_in_user, methods=["POST"], deduct_when=_failed),)


# ---- the 429 answer ---------------------------------------------------------------------------------

def _retry_after() -> int:
    """Seconds until the exceeded limit lets one more request through."""
    try:
        reset_at = limiter.current_limit.window.reset_time
    except Exception:  # noqa: BLE001 (storage gone mid-request: any honest guess beats a 500)
        return 60
    return max(1, math.ceil(reset_at - time.time()))


def too_many_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext("Too many attempts. Try again in %(num)d minute.",
                    "Too many attempts. Try again in %(num)d minutes.", minutes)


def throttled(limits, *, page: Callable[..., str]):
    """Apply ``limits`` to a view. Over a limit, the view does not run: the answer is 429 with a Retry-After
    header and ``page(message, **view_args)``, the view's own page showing what was typed and the message.
    """
    def decorate(view):
        limited = view
        for limit in reversed(limits):
            limited = limit(limited)

        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                return limited(*args, **kwargs)
            except RateLimitExceeded:
                seconds = _retry_after()
                response = make_response(page(too_many_message(seconds), **kwargs), 429)
                response.headers["Retry-After"] = str(seconds)
                return response

        return wrapper

    return decorate
