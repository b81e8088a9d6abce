from datetime import timezone

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy.exc import IntegrityError

from blog.extensions import db
from tests.conftest import IS_POSTGRES, scratch_database
from tests.factories import make_post, make_user

TABLES = {"users", "posts", "tags", "post_tags", "post_revisions", "comments", "media", "audit_events",
          "slug_redirects", "email_deliveries", "job_outbox", "related_posts", "recovery_codes"}
# The search index (0005); on SQLite, FTS5 keeps five shadow tables beside it.
TABLES |= {"post_search"} if IS_POSTGRES else {"post_search", "post_search_data", "post_search_idx",
                                               "post_search_content", "post_search_docsize", "post_search_config"}


def _tables():
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_check_downgrade_and_upgrade_again(make_app):
    with scratch_database("blog_mig") as url:
        app = make_app(database_url=url)
        runner = app.test_cli_runner()
        with app.app_context():
            upgrade()
            assert _tables() == TABLES
            assert runner.invoke(args=["db", "check"]).exit_code == 0
            with db.engine.begin() as conn:  # drift on purpose: the check must notice it
                conn.execute(sa.text("DROP INDEX ix_posts_kind_status_published_at"))
            assert runner.invoke(args=["db", "check"]).exit_code == 1
            with db.engine.begin() as conn:
                conn.execute(sa.text("CREATE INDEX ix_posts_kind_status_published_at "
                                     "ON posts (kind, status, published_at)"))
            assert runner.invoke(args=["db", "check"]).exit_code == 0
            downgrade(revision="base")
            assert _tables() == set()
            upgrade()
            assert _tables() == TABLES
            db.engine.dispose()


def test_usernames_and_emails_are_unique_ignoring_case(app):
    make_user(username="Alice", email="alice@example.com")
    with pytest.raises(IntegrityError):
        make_user(username="alice", email="other@example.com")
    db.session.rollback()
    with pytest.raises(IntegrityError):
        make_user(username="bob", email="ALICE@example.com")
    db.session.rollback()


def test_timestamps_come_back_timezone_aware_utc(app):
    post = make_post()
    db.session.expire_all()
    assert post.created_at.utcoffset() == timezone.utc.utcoffset(None)
    assert post.published_at.utcoffset() == timezone.utc.utcoffset(None)


def test_naive_datetimes_are_refused(app):
    from datetime import datetime

    post = make_post()
    post.published_at = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(Exception, match="naive datetime"):
        db.session.commit()
    db.session.rollback()
