import os
import subprocess
import sys
from pathlib import Path

import pytest

from blog.app import create_app
from blog.config import Config, ConfigError, normalize_database_url, validate

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "k" * 20 + "9f8e7d6c5b4a3210fedcba"
PRODUCTION = {
    "BLOG_ENV": "production",
    "SECRET_KEY": GOOD_SECRET,
    "DATABASE_URL": "postgresql://blog@db.internal/blog",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "STORAGE_BACKEND": "s3",
    "S3_BUCKET": "blog-media",
    "MAIL_SERVER": "smtp.internal",
    "BASE_URL": "https://blog.example.com",
}


def problems_for(**changes):
    env = {**PRODUCTION, **changes}
    return validate(Config.from_env({k: v for k, v in env.items() if v is not None}))


def test_complete_production_config_is_accepted():
    assert problems_for() == []


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is missing"),
        ({"SECRET_KEY": "short-but-random-7f3a"}, "SECRET_KEY is shorter than 32"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY is a well-known default"),
        ({"SECRET_KEY": "replace-me-with-a-long-random-string-of-at-least-32-chars"}, "well-known default"),
        ({"DATABASE_URL": None}, "DATABASE_URL is missing"),
        ({"REDIS_URL": None}, "REDIS_URL is missing"),
        ({"STORAGE_BACKEND": None}, "STORAGE_BACKEND must be 's3'"),
        ({"S3_BUCKET": None}, "S3_BUCKET is missing"),
        ({"MAIL_SERVER": None}, "MAIL_SERVER is missing"),
        ({"BASE_URL": None}, "BASE_URL is missing"),
    ],
)
def test_production_refuses_each_missing_or_unsafe_setting(changes, expected):
    problems = problems_for(**changes)
    assert len(problems) == 1
    assert expected in problems[0]


def test_every_problem_gets_its_own_line():
    problems = validate(Config.from_env({"BLOG_ENV": "production"}))
    assert len(problems) == 6  # secret, database, redis, storage, mail, base URL
    with pytest.raises(ConfigError) as info:
        create_app(Config.from_env({"BLOG_ENV": "production"}))
    assert str(info.value).count("\n  - ") == 6


def test_debug_is_never_on_in_production():
    config = Config.from_env({**PRODUCTION, "FLASK_DEBUG": "1"})
    assert config.DEBUG is False
    assert Config.from_env({"FLASK_DEBUG": "1"}).DEBUG is True


def test_production_cookies_are_secure():
    config = Config.from_env(PRODUCTION)
    assert config.SESSION_COOKIE_SECURE and config.REMEMBER_COOKIE_SECURE
    assert config.PREFERRED_URL_SCHEME == "https"


def test_embedded_default_needs_no_services(tmp_path):
    config = Config.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert validate(config) == []
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'blog.sqlite3'}"
    assert config.REDIS_URL is None
    assert config.STORAGE_BACKEND == "local"
    assert config.MEDIA_ROOT == str(tmp_path / "media")


def test_development_keeps_a_generated_secret_between_restarts(tmp_path):
    first = create_app(Config.from_env({"INSTANCE_PATH": str(tmp_path)})).config["SECRET_KEY"]
    second = create_app(Config.from_env({"INSTANCE_PATH": str(tmp_path)})).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg3(url, expected):
    assert normalize_database_url(url) == expected


def test_bad_numbers_are_reported_not_crashed():
    with pytest.raises(ConfigError, match="POSTS_PER_PAGE must be a whole number"):
        Config.from_env({"POSTS_PER_PAGE": "ten"})


def test_wsgi_refuses_to_start_in_production_with_one_line_per_problem(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "S3_BUCKET"}}
    env.update(BLOG_ENV="production", SECRET_KEY="dev", INSTANCE_PATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY is a well-known default" in result.stderr
    assert "DATABASE_URL is missing" in result.stderr
    assert "REDIS_URL is missing" in result.stderr
