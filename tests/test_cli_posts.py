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


def _stale(post, comment, user):
    """Rows as an older sanitizer policy left them: a version behind, with HTML today's policy refuses."""
    for row, column, version in ((post, "body_html", "sanitizer_version"), (comment, "body_html", "sanitizer_version"),
                                 (user, "bio_html", "bio_sanitizer_version")):
        setattr(row, column, '<img src=x onerror="alert(1)">')
        setattr(row, version, 0)
    db.session.commit()


def test_rerender_refreshes_rows_of_an_older_policy_only(app):
    from blog import sanitize
    from tests.factories import make_comment

    author = make_user(bio="I write *about* engines.")
    post = make_post(author, source="Plain **text**.")
    comment = make_comment(post, source="Nice _post_!")
    fresh = make_post(author, source="Already current.")
    runner = app.test_cli_runner()
    runner.invoke(posts_group, ["rerender"])  # factory users start without a rendered (empty) bio
    _stale(post, comment, author)
    result = runner.invoke(posts_group, ["rerender"])
    assert result.exit_code == 0, result.output
    assert "Re-rendered 1 posts and pages, 1 comments, 1 bios." in result.output
    for html in (post.body_html, comment.body_html, author.bio_html):
        assert "onerror" not in html
    assert "<strong>text</strong>" in post.body_html and "<em>post</em>" in comment.body_html
    assert "<em>about</em>" in author.bio_html
    assert {post.sanitizer_version, comment.sanitizer_version, author.bio_sanitizer_version} == {sanitize.VERSION}
    assert "Re-rendered 0 posts and pages, 0 comments, 0 bios." in runner.invoke(posts_group, ["rerender"]).output
    everything = runner.invoke(posts_group, ["rerender", "--all"]).output
    assert "Re-rendered 2 posts and pages, 1 comments" in everything and fresh.sanitizer_version == sanitize.VERSION


def test_reader_pages_rerender_stale_rows_lazily(app, client):
    from tests.factories import make_comment

    author = make_user(username="lazy")
    author.bio = "Hello *there*."
    post = make_post(author)
    comment = make_comment(post)
    _stale(post, comment, author)
    assert "onerror" not in client.get(f"/p/{post.slug}").get_data(as_text=True)
    profile = client.get("/u/lazy").get_data(as_text=True)
    assert "onerror" not in profile and "<em>there</em>" in profile
