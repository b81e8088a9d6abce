"""Reader pages issue a fixed, small number of SQL statements, however many posts they show."""
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from blog.extensions import db
from tests.factories import make_comment, make_post, make_user


@contextmanager
def count_statements():
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def _seed(n):
    author = make_user(username="counted")
    first = None
    for i in range(n):
        post = make_post(author, tags=["common", f"t{i}", f"u{i}"])
        make_comment(post)
        make_comment(post)
        first = first or post
    return first


def _counts(client, slug):
    result = {}
    for name, url in {"home": "/", "post": f"/p/{slug}", "tag": "/tag/common", "author": "/u/counted"}.items():
        db.session.remove()
        with count_statements() as statements:
            assert client.get(url).status_code == 200
        result[name] = len(statements)
    return result


@pytest.mark.parametrize("n", [2, 10])
def test_reader_pages_issue_at_most_four_statements(client, n):
    first = _seed(n)
    counts = _counts(client, first.slug)
    assert all(c <= 4 for c in counts.values()), counts


def test_statement_count_does_not_grow_with_rows(client, app):
    first = _seed(3)
    small = _counts(client, first.slug)
    author = db.session.scalar(sa.select(db.metadata.tables["users"].c.id))
    for i in range(12):
        post = make_post(db.session.get(__import__("blog.models.user", fromlist=["User"]).User, author),
                         tags=["common", f"x{i}", f"y{i}", f"z{i}"])
        make_comment(post)
    assert _counts(client, first.slug) == small
