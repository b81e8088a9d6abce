"""The composition root: ``create_app`` wires configuration, extensions, views and commands."""
from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask

from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from blog import i18n, observability, storage, templating, user_cache
from blog.config import Config, ConfigError, validate
from blog.extensions import babel, csrf, db, login_manager, migrate
from blog.jobs import queue
from blog.services import accounts


def create_app(config: Config | None = None) -> Flask:
    """Build the app. Raises :class:`ConfigError` listing every unsafe or missing setting."""
    config = config or Config.from_env()
    problems = validate(config)
    if problems:
        raise ConfigError(problems)
    app = Flask("blog", instance_path=config.INSTANCE_PATH, instance_relative_config=False)
    app.config.from_mapping(config.as_flask_config())
    register_secret_key(app)
    register_logging(app)
    register_error_tracking(app)
    register_extensions(app)
    register_views(app)
    register_security_headers(app)
    register_cli(app)
    register_middleware(app)
    return app


def register_secret_key(app: Flask) -> None:
    """Development only: keep a random key in ``instance/`` so sessions survive restarts.

    Production never gets here without a real key: :func:`blog.config.validate` refuses to start.
    """
    if app.config.get("SECRET_KEY"):
        return
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    app.config["SECRET_KEY"] = path.read_text().strip()


def register_logging(app: Flask) -> None:
    observability.init_app(app)


def register_middleware(app: Flask) -> None:
    """WSGI layers, innermost first: page-cache hits answered before Flask, then the proxy headers."""
    from blog.views.fast_hits import FastHits

    app.wsgi_app = FastHits(app, app.wsgi_app, security_headers(app.config))  # type: ignore[method-assign]
    if app.config["PROXY_COUNT"]:
        # Behind that many trusted proxies: take the client address, scheme and host from their headers.
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys = ON")


def register_error_tracking(app: Flask) -> None:
    """Send exceptions from the web and the worker to Sentry when SENTRY_DSN is set; nothing otherwise."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(dsn=dsn, environment=app.config["BLOG_ENV"],
                    integrations=[FlaskIntegration(), RqIntegration()], traces_sample_rate=0.0)


def register_extensions(app: Flask) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":  # SQLite ignores ON DELETE rules unless asked, per connection
            sa.event.listen(db.engine, "connect", _sqlite_foreign_keys)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    login_manager.init_app(app)
    login_manager.user_loader(accounts.load_session_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = i18n._l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    queue.init_app(app)
    storage.init_app(app)
    templating.init_app(app)
    user_cache.init_app(app)
    import blog.models  # noqa: F401  (registers every table for migrations)


def register_views(app: Flask) -> None:
    from blog.views import caching, errors, health, media, shells, throttling
    from blog.views.common import CleanRequest
    from blog.views.converters import PageSlugConverter
    from blog.views.auth.routes import bp as auth_bp
    from blog.views.admin.routes import bp as admin_bp
    from blog.views.moderation.routes import bp as moderation_bp
    from blog.views.public.routes import bp as public_bp
    from blog.views.settings.routes import bp as settings_bp
    from blog.views.studio.media import bp as studio_media_bp
    from blog.views.studio.routes import bp as studio_bp
    from blog.views.pages import bp as pages_bp
    from blog.views.i18n import bp as i18n_bp
    from blog.views.search import bp as search_bp
    from blog.views.feeds import bp as feeds_bp
    from blog.views.seo import bp as seo_bp

    throttling.init_app(app)
    app.request_class = CleanRequest
    app.url_map.converters["page_slug"] = PageSlugConverter
    app.register_blueprint(public_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(moderation_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(studio_bp)
    app.register_blueprint(studio_media_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(i18n_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(feeds_bp)
    app.register_blueprint(seo_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(media.bp)
    caching.init_app(app)
    shells.init_app(app)
    errors.init_app(app)


# The only inline styles pages carry: Markdown table alignment, exactly as blog.sanitize writes it.
TABLE_ALIGN_STYLES = ("text-align:left;", "text-align:center;", "text-align:right;")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def media_origins(config: Mapping) -> list[str]:
    """Origins besides this site that serve media reads and take direct uploads: the S3 endpoint, or the
    bucket's AWS host names, plus ``CSP_MEDIA_ORIGINS`` (a CDN). The local backend serves from this site."""
    origins: list[str] = []
    if config.get("STORAGE_BACKEND") == "s3":
        bucket, region = (config.get("S3_BUCKET") or "").lower(), config.get("S3_REGION")
        if config.get("S3_ENDPOINT_URL"):  # blog.storage.s3 addresses such endpoints by path
            origins.append(_origin(config["S3_ENDPOINT_URL"]).lower())
        elif "." in bucket:  # a dotted name is no TLS host label: botocore addresses the bucket by path
            origins += ["https://s3.amazonaws.com"] + ([f"https://s3.{region}.amazonaws.com"] if region else [])
        else:
            origins += [f"https://{bucket}.s3.amazonaws.com"] + (
                [f"https://{bucket}.s3.{region}.amazonaws.com"] if region else [])
    origins += config.get("CSP_MEDIA_ORIGINS") or ()
    return list(dict.fromkeys(origins))


def content_security_policy(config: Mapping) -> str:
    """Scripts and stylesheets only from files under /static (no inline script runs; a JSON-LD data block
    is not a script), images and uploads also from the media origins, and no framing, plugins or <base>."""
    media = " ".join(media_origins(config))
    align = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
                     for style in TABLE_ALIGN_STYLES)
    directives = [
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self'"),
        ("style-src-attr", f"'unsafe-hashes' {align}"),
        # Posts may show images from other sites (Markdown allows any https image); images cannot run script.
        ("img-src", f"'self' data: https: {media}"),
        ("connect-src", f"'self' {media}"),  # media.js posts files straight to the bucket
        ("form-action", "'self'"),  # the upload form without JavaScript posts to the app
        ("object-src", "'none'"),
        ("base-uri", "'none'"),
        ("frame-ancestors", "'none'"),
    ]
    return "; ".join(f"{name} {value}".strip() for name, value in directives)


def security_headers(config: Mapping) -> dict[str, str]:
    """The headers every response carries, built once per app from its configuration."""
    headers = {
        "Content-Security-Policy": content_security_policy(config),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
    }
    if config.get("HSTS_MAX_AGE"):
        headers["Strict-Transport-Security"] = f"max-age={config['HSTS_MAX_AGE']}; includeSubDomains"
    return headers


def register_security_headers(app: Flask) -> None:
    headers = security_headers(app.config)

    @app.errorhandler(SecurityError)
    def _untrusted_host(exc: SecurityError):
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no page layout either.
        return i18n._("Bad request") + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.after_request
    def _headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


def register_cli(app: Flask) -> None:
    from blog import cli

    cli.init_app(app)
