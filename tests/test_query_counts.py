"""Reader pages issue a fixed, small number of SQL statements, however many posts they show."""
import pytest
import sqlalchemy as sa

from blog.extensions import db
from blog.jobs import related
from tests.factories import make_comment, make_post, make_user
from tests.support import count_statements


def _seed(n):
    author = make_user(username="counted")
    first = None
    for i in range(n):
        post = make_post(author, tags=["common", f"t{i}", f"u{i}"])
        make_comment(post)
        make_comment(post)
        first = first or post
    related.refresh_all()
    return first


def _counts(client, slug):
    result = {}
    pages = {"home": "/", "post": f"/p/{slug}", "tag": "/tag/common", "author": "/u/counted",
             "archive": "/archive", "month": "/archive/{:%Y/%m}".format(db.session.scalar(
                 sa.select(sa.func.max(db.metadata.tables["posts"].c.published_at))))}
    for name, url in pages.items():
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
    related.refresh_all()
    assert _counts(client, first.slug) == small


def test_post_page_statements_do_not_grow_with_tags_or_related_posts(client, app):
    from blog.models.post import Post
    from blog.models.user import User

    from blog.services.posts import resolve_tags

    author_id = make_user(username="tagger").id
    post_id, slug = (p := make_post(db.session.get(User, author_id), tags=["solo"])).id, p.slug
    related.refresh_all()
    db.session.remove()
    bare = _post_statements(client, slug)
    many = [f"tag{i}" for i in range(10)]
    for _ in range(5):
        make_post(db.session.get(User, author_id), tags=many)
    db.session.get(Post, post_id).tags = resolve_tags(many)
    db.session.commit()
    related.refresh_all()
    post = db.session.get(Post, post_id)
    assert len(post.related) == 3 and len(post.tags) == 10
    db.session.remove()
    assert _post_statements(client, slug) == bare <= 4


def _post_statements(client, slug):
    with count_statements() as statements:
        assert client.get(f"/p/{slug}").status_code == 200
    return len(statements)
