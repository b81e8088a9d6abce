"""Test fixtures. The database backend comes from one variable, BLOG_TEST_DATABASE:

- ``sqlite`` (the default): a file in a temporary folder;
- a PostgreSQL server URL such as ``postgresql://postgres@127.0.0.1:5432/test``: the suite creates its
  own database on that server (``blog_test_<random>``), migrates it, and drops it at the end.

Each test starts from empty tables; the schema is built once per run with the real migrations.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade

from blog.app import create_app
from blog.config import TestConfig, normalize_database_url
from blog.extensions import db

BACKEND = os.environ.get("BLOG_TEST_DATABASE", "sqlite").strip() or "sqlite"
REDIS_SERVER = os.environ.get("BLOG_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
REDIS_CLAIM_KEY = "blog-test:claimed-by"
IS_POSTGRES = BACKEND.startswith("postgres")


def pytest_collection_modifyitems(config, items):
    if IS_POSTGRES:
        return
    # On SQLite the PostgreSQL-only tests are deselected (not skipped): they ran in the PostgreSQL pass.
    selected = [i for i in items if "postgres_only" not in i.keywords]
    deselected = [i for i in items if "postgres_only" in i.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@contextmanager
def scratch_database(prefix: str = "blog_test"):
    """Yield the URL of a new, empty database on the test backend; drop it afterwards."""
    if not IS_POSTGRES:
        folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"{prefix}_{uuid.uuid4().hex[:10]}"
        folder.mkdir(parents=True)
        try:
            yield f"sqlite:///{folder / 'blog.sqlite3'}"
        finally:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
        return
    server = sa.make_url(normalize_database_url(BACKEND))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class IsolatedClient(FlaskClient):
    """Gives every request its own app context, as a real server does.

    The fixtures keep an app context open for the test's own queries; without this, requests would
    share its ``g`` (and Flask-Login's cached user) and its database session.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.expire_all()  # the test's own session sees what the request committed
        return response


def make_config(tmp_path: Path, database_url: str, **overrides) -> TestConfig:
    config = TestConfig.from_env({"INSTANCE_PATH": str(tmp_path / "instance")})
    config.SQLALCHEMY_DATABASE_URI = database_url
    config.DATABASE_URL_SET = True
    config.WTF_CSRF_ENABLED = False
    config.INTERNAL_HOSTS = ("blog.test",)
    config.BASE_URL = "http://blog.test"
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@contextmanager
def claimed_redis_database():
    """Yield the URL of a Redis database of this process's own: the first empty one (15 down to 1) it can
    claim. Two runs on one machine (a developer and CI, say) never share one. The claim key stays while
    the block lasts; the database is emptied at the end."""
    from redis import Redis

    token = f"{os.getpid()}-{uuid.uuid4().hex}"
    for number in range(15, 0, -1):
        url = f"{REDIS_SERVER}/{number}"
        connection = Redis.from_url(url)
        try:
            if connection.set(REDIS_CLAIM_KEY, token, nx=True, ex=6 * 3600):
                if connection.dbsize() == 1:
                    break
                connection.delete(REDIS_CLAIM_KEY)  # someone's data lives here: leave it alone
        finally:
            connection.close()
    else:
        raise RuntimeError(f"no free Redis database on {REDIS_SERVER} for the tests")
    try:
        yield url
    finally:
        connection = Redis.from_url(url)
        if connection.get(REDIS_CLAIM_KEY) == token.encode():
            connection.flushdb()
        connection.close()


@pytest.fixture(scope="session")
def redis_url():
    """The run's own Redis database (see ``claimed_redis_database``); tests empty everything but the
    claim key (see ``clean_redis``)."""
    with claimed_redis_database() as url:
        yield url


def clean_redis(connection) -> None:
    """Delete every key of the run's Redis database except the claim."""
    keys = [k for k in connection.scan_iter(count=1000) if k != REDIS_CLAIM_KEY.encode()]
    if keys:
        connection.delete(*keys)


@pytest.fixture
def redis(redis_url):
    """A connection to the run's own Redis database, emptied before and after the test."""
    from redis import Redis

    connection = Redis.from_url(redis_url)
    clean_redis(connection)
    yield connection
    clean_redis(connection)
    connection.close()


@pytest.fixture(scope="session")
def database_url():
    with scratch_database() as url:
        yield url


@pytest.fixture(scope="session")
def _migrated_app(database_url, tmp_path_factory):
    app = create_app(make_config(tmp_path_factory.mktemp("app"), database_url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def _empty_all_tables() -> None:
    # post_search: the search index (migration 0005), kept out of the metadata; on SQLite an FTS5 table.
    tables = ["post_search", *(t.name for t in reversed(db.metadata.sorted_tables))]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(sa.text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def app(_migrated_app):
    """The shared app with empty tables, inside an app context."""
    with _migrated_app.app_context():
        yield _migrated_app
        db.session.rollback()
        _empty_all_tables()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build a separate app on the same database with config overrides (its engine is disposed after)."""
    built = []

    def _make(**overrides):
        new_app = create_app(make_config(tmp_path / f"app{len(built)}", overrides.pop("database_url", database_url),
                                         **overrides))
        new_app.test_client_class = IsolatedClient
        built.append(new_app)
        return new_app

    yield _make
    for built_app in built:
        with built_app.app_context():
            db.engine.dispose()


class Outbox:
    """The emails the app wrote to MAIL_OUTBOX (the embedded default's stand-in for an SMTP server)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def messages(self):
        from email import policy
        from email.parser import BytesParser

        if not self.folder.exists():
            return []
        paths = sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in paths]

    def last(self):
        messages = self.messages()
        assert messages, "no email was sent"
        return messages[-1]

    def clear(self):
        for path in self.folder.glob("*.eml"):
            path.unlink()


@pytest.fixture
def cached(app, make_app, redis, redis_url):
    """An app with the page cache on the test's own Redis database, its context pushed (``app`` empties
    the tables after)."""
    cached_app = make_app(REDIS_URL=redis_url)
    with cached_app.app_context():
        yield cached_app
        db.session.remove()


@pytest.fixture
def outbox(app):
    box = Outbox(Path(app.config["MAIL_OUTBOX"]))
    box.clear()
    yield box
    box.clear()


def email_parts(message) -> tuple[str, str]:
    """(text, html) bodies of a parsed message."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html_part = message.get_body(preferencelist=("html",))
    return text, html_part.get_content() if html_part else ""


def link_in(message, path_prefix: str) -> str:
    """The path of the first link in ``message`` whose path starts with ``path_prefix``."""
    import re
    from urllib.parse import urlsplit

    text, _html = email_parts(message)
    for url in re.findall(r"https?://\S+", text):
        if urlsplit(url).path.startswith(path_prefix):
            return urlsplit(url).path
    raise AssertionError(f"no link to {path_prefix} in: {text}")


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory):
    """Fake AWS credentials for the module (see ``tests.support.fake_aws_env``); undone afterwards."""
    from tests.support import fake_aws_env

    with pytest.MonkeyPatch.context() as mp:
        fake_aws_env(mp, str(tmp_path_factory.mktemp("aws") / "absent"))
        yield


@pytest.fixture(scope="session")
def moto_server():
    """The endpoint URL of moto's S3 server, in this process on a free loopback port, for the whole run."""
    from tests.support import start_moto_server

    server = start_moto_server()
    yield server.endpoint
    server.stop()


# Browser tests (pytest-playwright) drive Debian's Chromium: Playwright cannot download its own here.
@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {"executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
            "timeout": 30_000}
