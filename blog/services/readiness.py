"""``flask check``: is this deployment ready for production? One line per check, each pass or fail."""
from __future__ import annotations

from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from blog import mail
from blog.config import Config, validate
from blog.extensions import db
from blog.jobs import monitor
from blog.jobs.email import settings_from_config
from blog.jobs.queue import redis_connection
from blog.storage import get_storage


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _try(name: str, action, ok_detail: str) -> Check:
    try:
        detail = action() or ok_detail
    except Exception as exc:  # every failure becomes a failed line, never a crash
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:300])
    return Check(name, True, detail)


def _migrations() -> str:
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        raise RuntimeError(f"database at {sorted(current) or 'nothing'}, code expects {sorted(heads)}: "
                           "run flask db upgrade")
    return f"at head {', '.join(sorted(heads))}"


def _redis() -> str:
    connection = redis_connection()
    if connection is None:
        raise RuntimeError("REDIS_URL is not set: jobs would run inside web requests")
    connection.ping()
    return "reachable"


def _workers() -> str:
    if redis_connection() is None:
        raise RuntimeError("no Redis, so no workers")
    alive = monitor.live_workers()
    if not alive:
        raise RuntimeError("no worker has sent a heartbeat in the last 2 minutes: start python worker.py")
    return f"{alive} alive"


def _smtp() -> str:
    settings = settings_from_config(current_app.config)
    if not settings.server:
        raise RuntimeError("MAIL_SERVER is not set: emails would only be written to files")
    mail.check(settings)
    return f"{settings.server}:{settings.port} answers"


def report() -> list[Check]:
    """Every check of the production configuration and of the services it needs."""
    config = current_app.config
    settings = Config(**{k: v for k, v in config.items() if k in Config.__dataclass_fields__})
    settings.BLOG_ENV = "production"
    checks = [Check("configuration", not (problems := validate(settings)), "; ".join(problems) or "complete")]
    checks.append(Check("debug", not config.get("DEBUG"), "off" if not config.get("DEBUG") else "ON: turn it off"))
    secure = config.get("SESSION_COOKIE_SECURE") and config.get("REMEMBER_COOKIE_SECURE")
    checks.append(Check("secure cookies", bool(secure), "Secure, HttpOnly, SameSite=Lax" if secure
                        else "cookies are not marked Secure: set BLOG_ENV=production"))
    https = (config.get("BASE_URL") or "").startswith("https://") and config.get("PREFERRED_URL_SCHEME") == "https"
    checks.append(Check("https", https, config.get("BASE_URL") or "BASE_URL is not set"))
    checks.append(_try("migrations", _migrations, "at head"))
    checks.append(_try("redis", _redis, "reachable"))
    checks.append(_try("workers", _workers, "alive"))
    checks.append(_try("storage", lambda: get_storage().check(), "writable"))
    checks.append(_try("smtp", _smtp, "answers"))
    return checks
