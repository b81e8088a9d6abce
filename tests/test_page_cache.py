"""The anonymous page cache on the real Redis: hits cost no SQL, every change is seen at once, signed-in
readers and flashed messages are never cached, and a Redis outage only costs speed."""
import time
from datetime import timedelta

import pytest

from blog import page_cache
from blog.extensions import db
from blog.models.user import User
from blog.services import authoring, comments
from blog.services.authoring import Fields
from tests.factories import login, make_comment, make_post, make_user, now
from tests.support import count_statements, free_port


@pytest.fixture
def cached(app, make_app, redis, redis_url):
    """An app with the page cache on the test's own Redis database (``app`` empties the tables after)."""
    cached_app = make_app(REDIS_URL=redis_url)
    with cached_app.app_context():
        yield cached_app
        db.session.remove()


def get(client, url, **kwargs):
    response = client.get(url, **kwargs)
    return response, response.get_data(as_text=True)


def test_second_anonymous_request_is_a_hit_without_sql(cached):
    client = cached.test_client()
    post = make_post(make_user(username="ada"), title="Cached title")
    first, body = get(client, "/")
    assert first.headers["X-Page-Cache"] == "miss" and "Cached title" in body
    with count_statements() as statements:
        second, again = get(client, "/")
    assert second.headers["X-Page-Cache"] == "hit" and again == body and statements == []
    for url in (f"/p/{post.slug}", "/tag/missing-tag"):
        get(client, url)
    assert get(client, f"/p/{post.slug}")[0].headers["X-Page-Cache"] == "hit"
    assert "X-Page-Cache" not in get(client, "/tag/missing-tag")[0].headers  # 404s are not stored


def test_publishing_editing_and_deleting_are_seen_at_once(cached):
    client = cached.test_client()
    editor = make_user("editor", username="ed")
    get(client, "/")
    post = authoring.save(actor=editor, fields=Fields(title="Fresh news", source="Body."), action="publish")
    response, body = get(client, "/")
    assert response.headers["X-Page-Cache"] == "miss" and "Fresh news" in body
    get(client, f"/p/{post.slug}")
    authoring.save(actor=editor, post_id=post.id, base_version=post.version,
                   fields=Fields(title="Fresh news, corrected", slug=post.slug, source="Body."))
    assert "Fresh news, corrected" in get(client, f"/p/{post.slug}")[1]
    authoring.delete(actor=editor, post_id=post.id)
    assert "Fresh news" not in get(client, "/")[1]


def test_an_approved_comment_is_seen_at_once(cached):
    client = cached.test_client()
    editor = make_user("editor")
    post = make_post(editor)
    comment = make_comment(post, status="pending", source="Waiting for approval")
    assert "Waiting for approval" not in get(client, f"/p/{post.slug}")[1]
    assert get(client, f"/p/{post.slug}")[0].headers["X-Page-Cache"] == "hit"
    comments.moderate(actor=editor, comment_ids=[comment.id], action="approve")
    assert "Waiting for approval" in get(client, f"/p/{post.slug}")[1]


def test_a_scheduled_post_appears_when_its_time_comes(cached):
    client = cached.test_client()
    make_post(make_user(), title="Later today", published_at=now() + timedelta(seconds=1))
    assert "Later today" not in get(client, "/")[1]
    assert get(client, "/")[0].headers["X-Page-Cache"] == "hit"
    time.sleep(1.1)
    response, body = get(client, "/")
    assert response.headers["X-Page-Cache"] == "miss" and "Later today" in body


def test_signed_in_readers_and_flashed_messages_are_never_cached(cached, redis):
    client = cached.test_client()
    user = make_user(username="reader1", display_name="Reader One")
    get(client, "/")
    login(client, user)
    response, body = get(client, "/")
    assert "X-Page-Cache" not in response.headers and "Sign out" in body
    anonymous = cached.test_client()
    assert "Sign out" not in get(anonymous, "/")[1]
    with anonymous.session_transaction() as session:
        session["_flashes"] = [("success", "Only for you")]
    response, body = get(anonymous, "/")
    assert "X-Page-Cache" not in response.headers and "Only for you" in body
    assert "Only for you" not in get(cached.test_client(), "/")[1]


def test_each_language_has_its_own_copy(cached):
    make_post(make_user())
    english = cached.test_client()
    spanish = cached.test_client()
    spanish.set_cookie("locale", "es")
    assert 'lang="en"' in get(english, "/")[1]
    assert 'lang="es"' in get(spanish, "/")[1]
    response, body = get(spanish, "/", headers={"Accept-Language": "es"})
    assert response.headers["X-Page-Cache"] == "hit" and 'lang="es"' in body
    assert 'lang="en"' in get(english, "/")[1]


def test_made_up_query_strings_share_one_entry(cached, redis):
    client = cached.test_client()
    for n in range(5):
        get(client, f"/?utm_source=x{n}")
    assert len(redis.keys(page_cache.PAGE_PREFIX + "*")) == 1


def test_etags_answer_304(cached):
    client = cached.test_client()
    make_post(make_user())
    first, _ = get(client, "/")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache" and "Cookie" in first.headers["Vary"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    make_post(make_user(), title="Something new")
    assert client.get("/", headers={"If-None-Match": etag}).status_code == 200


def test_only_public_profile_changes_count_as_content(cached, redis):
    client = cached.test_client()
    author = make_user(username="ada", display_name="Ada")
    make_post(author)
    get(client, "/u/ada")
    version = redis.get(page_cache.VERSION_KEY)
    user = db.session.get(User, author.id)
    user.session_token = "rotated-session-token"
    db.session.commit()
    assert redis.get(page_cache.VERSION_KEY) == version
    user.display_name = "Ada Lovelace"
    db.session.commit()
    assert redis.get(page_cache.VERSION_KEY) != version
    assert "Ada Lovelace" in get(client, "/u/ada")[1]


def test_without_redis_pages_still_render(app, make_app):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with app.app_context():
        client = app.test_client()
        started = time.monotonic()
        for _ in range(3):
            response, _ = get(client, "/")
            assert response.status_code == 200 and "X-Page-Cache" not in response.headers
        assert time.monotonic() - started < 3  # one failed lookup pauses the cache instead of retrying


def test_disabled_by_setting(app, make_app, redis, redis_url):
    app = make_app(REDIS_URL=redis_url, PAGE_CACHE=False)
    with app.app_context():
        assert "X-Page-Cache" not in app.test_client().get("/").headers


def test_statement_writes_such_as_the_related_posts_job_count_as_content(cached, redis):
    from blog.jobs import related

    client = cached.test_client()
    author = make_user()
    first = make_post(author, tags=["t"])
    make_post(author, tags=["t"], title="The neighbour")
    assert "The neighbour" not in get(client, f"/p/{first.slug}")[1].split('id="related-title"')[-1]
    related.refresh_all()  # DELETE/INSERT statements on related_posts, no ORM objects
    assert 'id="related-title"' in get(client, f"/p/{first.slug}")[1]


def test_anonymous_reader_pages_set_no_cookie_with_csrf_on(app, make_app, redis, redis_url):
    """A CSRF token made for an anonymous reader would mean a session cookie on every page: no cache."""
    protected = make_app(REDIS_URL=redis_url, WTF_CSRF_ENABLED=True)
    with protected.app_context():
        author = make_user(username="ada")
        post = make_post(author, tags=["t"])
        make_comment(post)
        client = protected.test_client()
        for url in ("/", f"/p/{post.slug}", "/tag/t", "/u/ada", "/archive", "/feed.atom", "/sitemap.xml"):
            first = client.get(url)
            assert first.status_code == 200 and "Set-Cookie" not in first.headers, url
            assert client.get(url).headers["X-Page-Cache"] == "hit", url
        db.session.remove()
