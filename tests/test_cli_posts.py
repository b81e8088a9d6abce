"""``flask posts ...``: operators rebuild the derived data of posts (related lists, the search index)."""
import sqlalchemy as sa

from blog.cli.posts import posts as posts_group
from blog.extensions import db
from blog.models.post import related_posts
from blog.services import search
from tests.factories import make_post, make_user


def test_refresh_related_recomputes_every_list(app):
    editor = make_user("editor")
    a = make_post(editor, tags=["t"])
    b = make_post(editor, tags=["t"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(related_posts)) == 0  # no job ran
    result = app.test_cli_runner().invoke(posts_group, ["refresh-related"])
    assert result.exit_code == 0 and "2 posts" in result.output
    pairs = set(db.session.execute(sa.select(related_posts.c.post_id, related_posts.c.related_id)))
    assert pairs == {(a.id, b.id), (b.id, a.id)}


def test_reindex_search_rebuilds_the_index(app):
    post = make_post(make_user(), title="Zeppelin voyages")
    db.session.execute(sa.text("DELETE FROM post_search"))
    db.session.commit()
    assert search.search(query="zeppelin").items == []
    result = app.test_cli_runner().invoke(posts_group, ["reindex-search"])
    assert result.exit_code == 0 and "1 posts" in result.output
    assert [hit.post.id for hit in search.search(query="zeppelin").items] == [post.id]
