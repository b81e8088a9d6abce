"""The anonymous reader's pages: home, post, tag and author."""
import re
from datetime import timedelta

from tests.factories import make_comment, make_post, make_user, now


def titles(html: str) -> list[str]:
    return re.findall(r'class="card-title"><a href="[^"]+">([^<]+)</a>', html)


def test_home_lists_published_posts_newest_first_ten_per_page(client):
    author = make_user(display_name="Ada Lovelace")
    for i in range(12):
        make_post(author, title=f"Post {i:02d}", published_at=now() - timedelta(hours=i))
    page1 = client.get("/").get_data(as_text=True)
    assert titles(page1) == [f"Post {i:02d}" for i in range(10)]
    page2 = client.get("/?page=2").get_data(as_text=True)
    assert titles(page2) == ["Post 10", "Post 11"]
    assert 'rel="next" href="/?page=2"' in page1
    assert 'rel="prev" href="/"' in page2


def test_home_card_shows_author_date_excerpt_tags_and_reading_time(client):
    author = make_user(display_name="Ada Lovelace", username="ada")
    make_post(author, title="Engines", source="word " * 700, tags=["Python", "Flask"])
    html = client.get("/").get_data(as_text=True)
    assert 'href="/u/ada">Ada Lovelace</a>' in html
    assert "3 min read" in html
    assert 'href="/tag/python">#Python</a>' in html and 'href="/tag/flask">#Flask</a>' in html
    assert "word word word" in html  # the derived excerpt
    assert "<time datetime=" in html


def test_home_empty_state(client):
    html = client.get("/").get_data(as_text=True)
    assert "Nothing has been published yet" in html
    assert 'class="pager"' not in html


def test_post_page_shows_body_byline_tags_and_only_approved_comments(client):
    author = make_user(display_name="Grace Hopper", username="grace")
    post = make_post(author, title="Compilers", source="# Title\n\nSome **bold** text.", tags=["history"])
    make_comment(post, source="Approved *thought*", status="approved")
    make_comment(post, source="Waiting for review", status="pending")
    make_comment(post, source="Spam spam", status="rejected")
    response = client.get(f"/p/{post.slug}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Compilers · Blog</title>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="/u/grace">Grace Hopper</a>' in html
    assert 'href="/tag/history">#history</a>' in html
    assert "Approved <em>thought</em>" in html
    assert "Waiting for review" not in html and "Spam spam" not in html
    assert "1 comment" in html


def test_tag_page_lists_only_that_tags_posts(client):
    make_post(title="Tagged", tags=["Databases"])
    make_post(title="Untagged", tags=["Other"])
    html = client.get("/tag/databases").get_data(as_text=True)
    assert titles(html) == ["Tagged"]
    assert "Posts tagged “Databases”" in html
    assert client.get("/tag/no-such-tag").status_code == 404


def test_author_page_shows_profile_and_their_posts(client):
    ada = make_user(username="ada", display_name="Ada Lovelace", bio="Analyst", bio_html="<p>Analyst</p>")
    make_post(ada, title="Notes")
    make_post(make_user(), title="Someone else")
    html = client.get("/u/ada").get_data(as_text=True)
    assert "<h1 id=\"profile-name\" class=\"page-title\">Ada Lovelace</h1>" in html
    assert "<p>Analyst</p>" in html
    assert titles(html) == ["Notes"]
    assert client.get("/u/ADA").status_code == 200  # usernames are case-insensitive
    assert client.get("/u/nobody").status_code == 404


def test_suspended_authors_have_no_public_profile(client):
    make_user(username="gone", status="suspended")
    assert client.get("/u/gone").status_code == 404


def test_pages_use_the_layout_with_landmarks_and_skip_link(client):
    make_post(title="Landmarks")
    html = client.get("/").get_data(as_text=True)
    for fragment in ('<html lang="en">', '<a class="skip-link" href="#main">', "<header", "<nav", '<main id="main"',
                     "<footer", '<link rel="stylesheet" href="/static/css/site.css">'):
        assert fragment in html
    assert "<script" not in html  # every page works without JavaScript


def test_titles_are_escaped_never_html(client):
    make_post(title='<img src=x onerror="alert(1)">', tags=["<b>t</b>"])
    html = client.get("/").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
