"""Configuration: the only module that reads the environment.

``Config.from_env()`` builds a settings object from ``os.environ`` at call time (never at import).
The embedded default needs no services: SQLite under ``instance/``, media on local disk and jobs run
inline. Production mode (``BLOG_ENV=production``) refuses to start unless every setting it needs is
present and safe; :func:`validate` lists each problem on one line.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Secrets that appear in tutorials, templates and this repository's own examples.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "dev",
        "secret",
        "changeme",
        "change-me",
        "development",
        "your-secret-key",
        "super-secret-key",
        "replace-me-with-a-long-random-string-of-at-least-32-chars",
    }
)
MIN_SECRET_LENGTH = 32
ENVIRONMENTS = ("development", "production", "testing")
STORAGE_BACKENDS = ("local", "s3")


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or incomplete for the chosen environment."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Refusing to start:\n" + "\n".join(f"  - {p}" for p in problems))


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError([f"{name} must be a whole number, got {raw!r}"]) from exc


def _int_list(env: dict, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError as exc:
        raise ConfigError([f"{name} must be whole numbers separated by commas, got {raw!r}"]) from exc
    if any(v < 0 for v in values):
        raise ConfigError([f"{name} must not be negative"])
    return values


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the way hosting platforms print them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# Always accepted once a host list applies: a container's own health check asks for http://127.0.0.1/healthz.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
HSTS_MAX_AGE = 2 * 365 * 24 * 3600
# A CSP source for media: an origin (https://cdn.example.com[:port], https://*.example.com) or a scheme (https:).
_CSP_SOURCE = re.compile(r"(https?://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?|https?:)", re.IGNORECASE)


def _trusted_hosts(env: dict, *, production: bool) -> list[str] | None:
    """TRUSTED_HOSTS as a list (``None``: any host). Production defaults to BASE_URL's host; ``*`` opts out."""
    raw = env.get("TRUSTED_HOSTS", "").strip()
    if raw == "*":
        return None
    hosts = [h.strip().lower() for h in raw.split(",") if h.strip()]
    if not hosts and production:
        base_host = urlsplit((env.get("BASE_URL") or "").strip()).hostname
        hosts = [base_host] if base_host else []
    if not hosts:
        return None
    return hosts + [h for h in LOOPBACK_HOSTS if h not in hosts]


def _is_rate_limit(value: str) -> bool:
    from limits import parse_many

    try:
        return bool(parse_many(value))
    except ValueError:
        return False


@dataclass
class Config:
    """Settings as Flask config keys. Build it with :meth:`from_env`."""

    BLOG_ENV: str = "development"
    SECRET_KEY: str | None = None
    DEBUG: bool = False
    TESTING: bool = False
    PROPAGATE_EXCEPTIONS: bool | None = None  # None: Flask's default (on when testing or debugging)
    SITE_NAME: str = "Blog"
    SITE_DESCRIPTION: str = "Writing from our authors"
    SQLALCHEMY_DATABASE_URI: str = ""
    DATABASE_URL_SET: bool = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = field(default_factory=lambda: {"pool_pre_ping": True})
    REDIS_URL: str | None = None
    # Anonymous reader pages rendered once and kept in Redis (needs REDIS_URL); see blog/page_cache.py.
    PAGE_CACHE: bool = True
    PAGE_CACHE_TTL: int = 300
    SEARCH_CACHE_PER_MINUTE: int = 300
    # Signed-in users' rows kept in Redis this many seconds (0: off); see blog/user_cache.py.
    USER_CACHE_TTL: int = 60
    STORAGE_BACKEND: str = "local"
    MEDIA_ROOT: str = ""
    MEDIA_URL_LIFETIME: int = 3600
    S3_BUCKET: str | None = None
    S3_REGION: str | None = None
    S3_ENDPOINT_URL: str | None = None
    POSTS_PER_PAGE: int = 10
    COMMENT_MAX_LENGTH: int = 5000
    COMMENTS_PER_MINUTE: int = 5
    # Abuse controls (Flask-Limiter, blog/views/throttling.py): each limit reads like "5 per 15 minutes".
    # Counters live in Redis when REDIS_URL is set, in the process's memory otherwise.
    RATELIMIT_ENABLED: bool = True
    LOGIN_LIMIT_ACCOUNT: str = "5 per 15 minutes"  # failed sign-ins (and second-step codes) per login name
    LOGIN_LIMIT_IP: str = "20 per hour"  # sign-in attempts per client address
    RESET_LIMIT_EMAIL: str = "5 per hour"  # password reset requests per address typed
    RESET_LIMIT_IP: str = "20 per hour"
    REGISTER_LIMIT_IP: str = "20 per hour"
    COMMENT_LIMIT_USER: str = "30 per hour"  # besides COMMENTS_PER_MINUTE, which the comments service applies
    COMMENT_LIMIT_IP: str = "60 per hour"
    # Administrators must set up two-factor authentication before they can use /admin.
    REQUIRE_ADMIN_2FA: bool = False
    BABEL_DEFAULT_LOCALE: str = "en"
    BABEL_DEFAULT_TIMEZONE: str = "UTC"
    BABEL_TRANSLATION_DIRECTORIES: str = str(PROJECT_ROOT / "translations")
    LANGUAGES: tuple[str, ...] = ("en", "es", "de", "fr")
    WTF_CSRF_ENABLED: bool = True
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_SECURE: bool = False
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_SECURE: bool = False
    PREFERRED_URL_SCHEME: str = "http"
    INTERNAL_HOSTS: tuple[str, ...] = ()
    INSTANCE_PATH: str = str(PROJECT_ROOT / "instance")
    BASE_URL: str | None = None
    # Host names requests may carry; Flask answers 400 to any other, so a forged Host header reaches no link
    # or redirect. None accepts any host (development). See _trusted_hosts.
    TRUSTED_HOSTS: list[str] | None = None
    # Origins besides this site and the storage backend for images and direct uploads (a CDN); see blog.app.
    CSP_MEDIA_ORIGINS: tuple[str, ...] = ()
    # Strict-Transport-Security max-age in seconds; 0 sends no header (production: two years).
    HSTS_MAX_AGE: int = 0
    MAIL_SERVER: str | None = None
    MAIL_PORT: int = 25
    MAIL_USE_TLS: bool = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER: str = "Blog <no-reply@localhost>"
    MAIL_OUTBOX: str = ""
    MAIL_RETRY_INTERVALS: tuple[int, ...] = (10, 30, 60, 300, 900)
    REMEMBER_COOKIE_DURATION: int = 30 * 24 * 3600
    MAX_CONTENT_LENGTH: int = 21 * 1024 * 1024
    LOG_FORMAT: str = "text"
    LOG_REQUESTS: bool = False
    PROXY_COUNT: int = 0
    METRICS_TOKEN: str | None = None
    # Set by gunicorn.conf.py for prometheus_client's multiprocess mode (several gunicorn workers).
    PROMETHEUS_MULTIPROC_DIR: str | None = None
    SENTRY_DSN: str | None = None

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Config":
        env = dict(os.environ if environ is None else environ)
        blog_env = env.get("BLOG_ENV", "development").strip().lower() or "development"
        instance = env.get("INSTANCE_PATH") or str(PROJECT_ROOT / "instance")
        database_url = env.get("DATABASE_URL", "").strip()
        production = blog_env == "production"
        internal_hosts = tuple(h.strip().lower() for h in env.get("INTERNAL_HOSTS", "").split(",") if h.strip())
        return cls(
            BLOG_ENV=blog_env,
            SECRET_KEY=env.get("SECRET_KEY") or None,
            DEBUG=False if production else _bool(env.get("FLASK_DEBUG")),
            SITE_NAME=env.get("SITE_NAME", "Blog"),
            SITE_DESCRIPTION=env.get("SITE_DESCRIPTION", "Writing from our authors"),
            SQLALCHEMY_DATABASE_URI=normalize_database_url(database_url)
            if database_url
            else f"sqlite:///{Path(instance) / 'blog.sqlite3'}",
            DATABASE_URL_SET=bool(database_url),
            REDIS_URL=env.get("REDIS_URL", "").strip() or None,
            PAGE_CACHE=_bool(env.get("PAGE_CACHE", "1")),
            PAGE_CACHE_TTL=_int(env, "PAGE_CACHE_TTL", 300),
            SEARCH_CACHE_PER_MINUTE=_int(env, "SEARCH_CACHE_PER_MINUTE", 300),
            USER_CACHE_TTL=_int(env, "USER_CACHE_TTL", 60),
            STORAGE_BACKEND=env.get("STORAGE_BACKEND", "local").strip().lower() or "local",
            MEDIA_ROOT=env.get("MEDIA_ROOT") or str(Path(instance) / "media"),
            MEDIA_URL_LIFETIME=_int(env, "MEDIA_URL_LIFETIME", 3600),
            S3_BUCKET=env.get("S3_BUCKET") or None,
            S3_REGION=env.get("S3_REGION") or None,
            S3_ENDPOINT_URL=env.get("S3_ENDPOINT_URL") or None,
            POSTS_PER_PAGE=_int(env, "POSTS_PER_PAGE", 10),
            COMMENT_MAX_LENGTH=_int(env, "COMMENT_MAX_LENGTH", 5000),
            COMMENTS_PER_MINUTE=_int(env, "COMMENTS_PER_MINUTE", 5),
            RATELIMIT_ENABLED=_bool(env.get("RATELIMIT_ENABLED"), default=True),
            **{name: (env.get(name) or "").strip() or default for name, default in RATE_LIMIT_DEFAULTS.items()},
            REQUIRE_ADMIN_2FA=_bool(env.get("REQUIRE_ADMIN_2FA")),
            BABEL_DEFAULT_LOCALE=env.get("DEFAULT_LOCALE", "en"),
            BABEL_DEFAULT_TIMEZONE=env.get("DEFAULT_TIMEZONE", "UTC"),
            SESSION_COOKIE_SECURE=production,
            REMEMBER_COOKIE_SECURE=production,
            PREFERRED_URL_SCHEME="https" if production else "http",
            INTERNAL_HOSTS=internal_hosts,
            INSTANCE_PATH=instance,
            BASE_URL=(env.get("BASE_URL") or "").strip().rstrip("/") or None,
            TRUSTED_HOSTS=_trusted_hosts(env, production=production),
            CSP_MEDIA_ORIGINS=tuple(o.strip().rstrip("/") for o in env.get("CSP_MEDIA_ORIGINS", "").split(",")
                                    if o.strip()),
            HSTS_MAX_AGE=HSTS_MAX_AGE if production else 0,
            MAIL_SERVER=env.get("MAIL_SERVER") or None,
            MAIL_PORT=_int(env, "MAIL_PORT", 25),
            MAIL_USE_TLS=_bool(env.get("MAIL_USE_TLS")),
            MAIL_USERNAME=env.get("MAIL_USERNAME") or None,
            MAIL_PASSWORD=env.get("MAIL_PASSWORD") or None,
            MAIL_DEFAULT_SENDER=env.get("MAIL_DEFAULT_SENDER") or "Blog <no-reply@localhost>",
            MAIL_OUTBOX=env.get("MAIL_OUTBOX") or str(Path(instance) / "outbox"),
            MAIL_RETRY_INTERVALS=_int_list(env, "MAIL_RETRY_INTERVALS", (10, 30, 60, 300, 900)),
            REMEMBER_COOKIE_DURATION=_int(env, "REMEMBER_COOKIE_DAYS", 30) * 24 * 3600,
            MAX_CONTENT_LENGTH=_int(env, "MAX_UPLOAD_MB", 21) * 1024 * 1024,
            LOG_FORMAT=(env.get("LOG_FORMAT") or ("json" if production else "text")).strip().lower(),
            LOG_REQUESTS=_bool(env.get("LOG_REQUESTS"), default=production),
            PROXY_COUNT=_int(env, "PROXY_COUNT", 0),
            METRICS_TOKEN=env.get("METRICS_TOKEN") or None,
            PROMETHEUS_MULTIPROC_DIR=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            SENTRY_DSN=env.get("SENTRY_DSN") or None,
        )

    @property
    def is_production(self) -> bool:
        return self.BLOG_ENV == "production"

    def as_flask_config(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k.isupper()}


def validate(config: Config) -> list[str]:
    """Return one line per missing or unsafe setting; an empty list means the config may start."""
    problems: list[str] = []
    if config.BLOG_ENV not in ENVIRONMENTS:
        problems.append(f"BLOG_ENV must be one of {', '.join(ENVIRONMENTS)}, got {config.BLOG_ENV!r}")
    if config.STORAGE_BACKEND not in STORAGE_BACKENDS:
        problems.append(
            f"STORAGE_BACKEND must be one of {', '.join(STORAGE_BACKENDS)}, got {config.STORAGE_BACKEND!r}"
        )
    if config.LOG_FORMAT not in ("json", "text"):
        problems.append(f"LOG_FORMAT must be json or text, got {config.LOG_FORMAT!r}")
    if config.PROXY_COUNT < 0:
        problems.append("PROXY_COUNT must not be negative")
    if config.POSTS_PER_PAGE < 1 or config.POSTS_PER_PAGE > 100:
        problems.append("POSTS_PER_PAGE must be between 1 and 100")
    if config.COMMENT_MAX_LENGTH < 1:
        problems.append("COMMENT_MAX_LENGTH must be at least 1")
    if config.COMMENTS_PER_MINUTE < 1:
        problems.append("COMMENTS_PER_MINUTE must be at least 1")
    for name in RATE_LIMIT_DEFAULTS:
        if not _is_rate_limit(getattr(config, name)):
            problems.append(f"{name} must read like '5 per 15 minutes', got {getattr(config, name)!r}")
    if not 1 <= config.REMEMBER_COOKIE_DURATION // (24 * 3600) <= 365:
        problems.append("REMEMBER_COOKIE_DAYS must be between 1 and 365")
    for origin in config.CSP_MEDIA_ORIGINS:
        if not _CSP_SOURCE.fullmatch(origin):
            problems.append(f"CSP_MEDIA_ORIGINS entries must be origins like https://cdn.example.com, got {origin!r}")
    if not config.is_production:
        return problems
    secret = config.SECRET_KEY
    if not secret:
        problems.append("SECRET_KEY is missing: set it to a random string of at least 32 characters")
    elif secret.strip().lower() in KNOWN_DEFAULT_SECRETS:
        problems.append("SECRET_KEY is a well-known default: generate a random one")
    elif len(secret) < MIN_SECRET_LENGTH:
        problems.append(f"SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters")
    if not config.DATABASE_URL_SET:
        problems.append("DATABASE_URL is missing: production needs PostgreSQL (postgresql://...)")
    if not config.REDIS_URL:
        problems.append("REDIS_URL is missing: production runs background jobs on Redis")
    if config.STORAGE_BACKEND != "s3":
        problems.append("STORAGE_BACKEND must be 's3' in production (local disk is not shared between hosts)")
    elif not config.S3_BUCKET:
        problems.append("S3_BUCKET is missing: production stores media in S3-compatible storage")
    if config.DEBUG:
        problems.append("FLASK_DEBUG must be off in production")
    if not config.MAIL_SERVER:
        problems.append("MAIL_SERVER is missing: production sends account emails over SMTP")
    if not config.BASE_URL:
        problems.append("BASE_URL is missing: emails need absolute links (e.g. https://blog.example.com)")
    elif urlsplit(config.BASE_URL).scheme not in ("http", "https") or not urlsplit(config.BASE_URL).hostname:
        problems.append(f"BASE_URL must be an absolute address like https://blog.example.com, got {config.BASE_URL!r}")
    return problems


class TestConfig(Config):
    """Settings for the test suite: CSRF can be toggled per test module, jobs run inline."""

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "TestConfig":  # type: ignore[override]
        env = dict(os.environ if environ is None else environ)
        base = Config.from_env({k: v for k, v in env.items() if k != "BLOG_ENV"})
        config = cls(**base.__dict__)
        config.BLOG_ENV = "testing"
        config.TESTING = True
        config.PROPAGATE_EXCEPTIONS = False  # render 500 pages as production does; they are still logged
        config.SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
        config.REDIS_URL = None
        config.RATELIMIT_ENABLED = False  # the throttling tests turn it on for their own app
        return config


# The rate limit settings and their defaults (also the Config fields above).
RATE_LIMIT_DEFAULTS = {name: getattr(Config, name) for name in (
    "LOGIN_LIMIT_ACCOUNT", "LOGIN_LIMIT_IP", "RESET_LIMIT_EMAIL", "RESET_LIMIT_IP", "REGISTER_LIMIT_IP",
    "COMMENT_LIMIT_USER", "COMMENT_LIMIT_IP")}
