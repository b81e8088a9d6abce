"""The studio through its forms: errors keep the text, two tabs conflict safely, preview, delete, pages."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from blog.extensions import db
from blog.models.post import Post
from tests.factories import login, make_post, make_user, now


@pytest.fixture
def author_client(client):
    author = make_user("author", username="writer")
    login(client, author)
    client.author = author
    return client


def version_in(html: str) -> str:
    return re.search(r'id="version" name="version" type="hidden" value="(\d+)"', html).group(1)


def post_data(**overrides):
    data = {"title": "My title", "slug": "", "source": "Some *text*.", "excerpt": "", "tags": "", "action": "save"}
    data.update(overrides)
    return data


def test_new_post_saves_a_draft_and_shows_the_editor(author_client):
    response = author_client.post("/studio/new/post", data=post_data(tags="one, two"))
    assert response.status_code == 302
    edit = author_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved “My title”." in edit and ">Draft</span>" in edit
    assert 'value="one, two"' in edit


def test_validation_errors_keep_everything_typed(author_client):
    response = author_client.post("/studio/new/post", data=post_data(
        title="", source="Long careful text I must not lose.", excerpt="x" * 501, tags="keep, these"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Long careful text I must not lose.</textarea>" in html
    assert 'value="keep, these"' in html
    assert 'id="title-error"' in html and 'id="excerpt-error"' in html


def test_unconfirmed_author_pressing_publish_keeps_the_text(client):
    login(client, make_user("author", email_confirmed_at=None))
    response = client.post("/studio/new/post", data=post_data(source="Precious words", action="publish"))
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Confirm your email address before publishing." in html and "Precious words</textarea>" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Post)) == 0


def test_two_tabs_editing_the_same_post_conflict_without_losing_text(app):
    editor = make_user("editor")
    post = make_post(make_user("author"), title="Shared", source="original")
    tab1, tab2 = app.test_client(), app.test_client()
    login(tab1, editor)
    login(tab2, editor)
    url = f"/studio/posts/{post.id}/edit"
    v1 = version_in(tab1.get(url).get_data(as_text=True))
    v2 = version_in(tab2.get(url).get_data(as_text=True))
    assert tab1.post(url, data=post_data(title="Shared", slug=post.slug, source="first tab's text",
                                         version=v1)).status_code == 302
    response = tab2.post(url, data=post_data(title="Shared", slug=post.slug, source="second tab's text", version=v2))
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone saved this post while you were editing it." in html
    assert "second tab&#39;s text</textarea>" in html  # what this tab typed is still in the form
    assert "first tab&#39;s text</pre>" in html  # and the newer text is shown beside it
    assert version_in(html) != v2  # saving again now is deliberate and works
    again = tab2.post(url, data=post_data(title="Shared", slug=post.slug, source="merged", version=version_in(html)))
    assert again.status_code == 302
    db.session.expire_all()
    assert db.session.get(Post, post.id).source == "merged"


def test_preview_without_javascript_renders_and_saves_nothing(author_client):
    response = author_client.post("/studio/new/post", data=post_data(
        title="Preview me", source="| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>", action="preview"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview: this is how readers will see it." in html
    assert "<table tabindex=\"0\">" in html and "<script>alert(1)" not in html
    assert "Preview me" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Post)) == 0


def test_preview_fragment_for_the_editor_script(author_client):
    response = author_client.post("/studio/preview/post", data={"title": "Live", "source": "**bold**"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>bold</strong>" in html and "<html" not in html


def test_editor_page_loads_its_script_from_a_file(author_client):
    html = author_client.get("/studio/new/post").get_data(as_text=True)
    assert '<script src="/static/js/editor.js" defer></script>' in html
    assert re.search(r"<script>(?!</)", html) is None  # no inline script


def test_publish_then_schedule_show_in_the_studio_list(author_client):
    author_client.post("/studio/new/post", data=post_data(title="Live post", action="publish"))
    later = (now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    author_client.post("/studio/new/post", data=post_data(title="Later post", action="schedule", publish_at=later))
    listing = author_client.get("/studio/posts").get_data(as_text=True)
    assert ">Published</span>" in listing and ">Scheduled</span>" in listing
    home = author_client.get("/").get_data(as_text=True)
    assert "Live post" in home and "Later post" not in home


def test_delete_needs_a_confirmation_post(author_client):
    post_id = make_post(author_client.author, title="Bye").id
    page = author_client.get(f"/studio/posts/{post_id}/delete")
    assert page.status_code == 200 and "Delete “Bye”?" in page.get_data(as_text=True)
    assert db.session.get(Post, post_id) is not None  # the GET deleted nothing
    response = author_client.post(f"/studio/posts/{post_id}/delete")
    assert response.status_code == 302
    assert db.session.get(Post, post_id) is None


def test_status_buttons_are_posts(author_client):
    post = make_post(author_client.author, title="Toggle")
    assert author_client.get(f"/studio/posts/{post.id}/unpublish").status_code == 405
    author_client.post(f"/studio/posts/{post.id}/unpublish")
    db.session.expire_all()
    assert db.session.get(Post, post.id).status == "draft"
    author_client.post(f"/studio/posts/{post.id}/archive")
    db.session.expire_all()
    assert db.session.get(Post, post.id).status == "archived"


def test_changed_slug_of_a_published_post_answers_301(author_client):
    post = make_post(author_client.author, title="Moving")
    old_slug = post.slug
    url = f"/studio/posts/{post.id}/edit"
    html = author_client.get(url).get_data(as_text=True)
    saved = author_client.post(url, data=post_data(title="Moving", slug="moved-here", source=post.source,
                                                   version=version_in(html)))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    response = author_client.get(f"/p/{old_slug}")
    assert response.status_code == 301 and response.headers["Location"] == "/p/moved-here"
    assert author_client.get("/p/moved-here").status_code == 200


def test_history_diff_and_restore(author_client):
    response = author_client.post("/studio/new/post", data=post_data(title="Hist", source="version one"))
    url = response.headers["Location"]
    post_id = int(url.split("/")[3])
    html = author_client.get(url).get_data(as_text=True)
    saved = author_client.post(url, data=post_data(title="Hist", slug="hist", source="version two",
                                                   version=version_in(html)))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    history = author_client.get(f"/studio/posts/{post_id}/revisions").get_data(as_text=True)
    assert "2 revisions, newest first" in history
    assert history.count(f"<td>{author_client.author.display_name}</td>") == 2
    first = re.search(rf"/studio/posts/{post_id}/revisions/(\d+)", history).group(1)
    diff = author_client.get(f"/studio/posts/{post_id}/revisions/{first}").get_data(as_text=True)
    assert "<del>version one</del>" in diff and "<ins>version two</ins>" in diff
    author_client.post(f"/studio/posts/{post_id}/revisions/{first}/restore")
    db.session.expire_all()
    assert db.session.get(Post, post_id).source == "version one"


def test_pages_have_their_own_address_and_navigation_and_stay_out_of_the_feed(client):
    editor = make_user("editor")
    login(client, editor)
    response = client.post("/studio/new/page", data=post_data(title="About us", source="Who we are.",
                                                              nav_order="1", action="publish"))
    assert response.status_code == 302
    page = client.get("/about-us")
    assert page.status_code == 200 and "Who we are." in page.get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)
    assert '<a href="/about-us">About us</a>' in home
    assert "card-title" not in home  # not in the feed
    assert client.get("/p/about-us").status_code == 404
    assert client.get("/logout").status_code == 405  # the app's own addresses still win


@pytest.mark.parametrize("role, status", [("reader", 403), ("author", 200), ("editor", 200)])
def test_who_may_open_the_studio(client, role, status):
    login(client, make_user(role))
    assert client.get("/studio/posts").status_code == status


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get("/studio/posts")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_authors_cannot_open_other_authors_posts_but_editors_can(client, app):
    other = make_post(make_user("author"), title="Not yours")
    login(client, make_user("author"))
    assert client.get(f"/studio/posts/{other.id}/edit").status_code == 403
    assert client.post(f"/studio/posts/{other.id}/delete").status_code == 403
    editor_client = app.test_client()
    login(editor_client, make_user("editor"))
    assert editor_client.get(f"/studio/posts/{other.id}/edit").status_code == 200


def test_unknown_filters_are_404_not_500(author_client):
    assert author_client.get("/studio/posts?state=bogus").status_code == 404
    assert author_client.get("/studio/posts?sort=evil;drop").status_code == 404
    assert author_client.get("/studio/posts?page=0").status_code == 404
