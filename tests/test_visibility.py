"""Drafts, archived and scheduled posts do not exist for readers: pages, lists and counts."""
from datetime import timedelta

import pytest

from blog.exceptions import NotFound
from blog.services import posts
from tests.factories import make_post, make_user, now


@pytest.fixture
def hidden(app):
    author = make_user(username="writer")
    visible = make_post(author, title="Visible", tags=["t"])
    hidden_posts = [
        make_post(author, title="Draft", status="draft", tags=["t"]),
        make_post(author, title="Archived", status="archived", tags=["t"]),
        make_post(author, title="Scheduled", status="published", published_at=now() + timedelta(hours=1), tags=["t"]),
    ]
    return visible, hidden_posts


@pytest.mark.parametrize("url", ["/", "/tag/t", "/u/writer"])
def test_lists_show_only_the_visible_post(client, hidden, url):
    html = client.get(url).get_data(as_text=True)
    assert "Visible" in html
    for title in ("Draft", "Archived", "Scheduled"):
        assert title not in html


def test_hidden_posts_are_404(client, hidden):
    visible, hidden_posts = hidden
    assert client.get(f"/p/{visible.slug}").status_code == 200
    for post in hidden_posts:
        assert client.get(f"/p/{post.slug}").status_code == 404


def test_counts_ignore_hidden_posts(app, hidden):
    assert len(posts.home_feed().items) == 1
    assert len(posts.tag_feed(slug="t")[1].items) == 1
    assert len(posts.author_feed(username="writer")[1].items) == 1


def test_scheduled_post_appears_exactly_at_its_time_without_a_job(app):
    at = now() + timedelta(days=1)
    post = make_post(title="Later", published_at=at)
    assert posts.home_feed(now=at - timedelta(microseconds=1)).items == []
    with pytest.raises(NotFound):
        posts.post_for_reader(slug=post.slug, now=at - timedelta(microseconds=1))
    assert [p.id for p in posts.home_feed(now=at).items] == [post.id]
    assert posts.post_for_reader(slug=post.slug, now=at).id == post.id
