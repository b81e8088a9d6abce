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
    # Signed in: never the anonymous copy (blog/views/shells.py has a shell of its own for them).
    assert response.headers["X-Page-Cache"] == "shell-miss" and "Sign out" in body
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


# ---- hits answered before Flask (blog/views/fast_hits.py) ---------------------------------------------

@pytest.fixture
def flask_runs(cached):
    """How many requests reached Flask's request machinery (its before-request hooks)."""
    seen = []
    cached.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append(1) and None)
    return seen


def test_a_plain_hit_never_reaches_flask_and_answers_as_flask_would(cached, flask_runs):
    client = cached.test_client()
    make_post(make_user(username="grace"), title="Answered early")
    miss = client.get("/?page=1", headers={"X-Request-ID": "a" * 32})
    assert miss.headers["X-Page-Cache"] == "miss" and len(flask_runs) == 1
    hit = client.get("/?page=1", headers={"X-Request-ID": "b" * 32})
    assert hit.headers["X-Page-Cache"] == "hit" and len(flask_runs) == 1
    assert hit.get_data() == miss.get_data()
    assert hit.headers["X-Request-ID"] == "b" * 32

    def comparable(response):
        headers = {name: value for name, value in response.headers.items()
                   if name not in ("X-Page-Cache", "X-Request-ID", "Date")}
        headers["Vary"] = {part.strip() for part in headers["Vary"].split(",")}
        return headers

    assert comparable(hit) == comparable(miss)  # the CSP and the other security headers included
    assert "Content-Security-Policy" in hit.headers and "Set-Cookie" not in hit.headers and "Date" in hit.headers
    not_modified = client.get("/?page=1", headers={"If-None-Match": hit.headers["ETag"]})
    assert not_modified.status_code == 304 and not_modified.get_data() == b"" and len(flask_runs) == 1
    head = client.head("/?page=1")
    assert head.status_code == 200 and head.get_data() == b"" and len(flask_runs) == 1


def test_what_the_early_answer_leaves_to_flask(cached, flask_runs):
    client = cached.test_client()
    post = make_post(make_user(username="hopper"), title="Left to Flask")
    get(client, f"/p/{post.slug}")
    reached = len(flask_runs)
    assert get(client, f"/p/{post.slug}")[0].headers["X-Page-Cache"] == "hit" and len(flask_runs) == reached
    # A session cookie (it may hold a user or a flashed message), a remember-me cookie, a POST, another
    # endpoint, a redirect, a precondition.
    with_session = cached.test_client()
    with with_session.session_transaction() as session:
        session["anything"] = 1
    assert get(with_session, f"/p/{post.slug}")[0].status_code == 200
    remembered = cached.test_client()
    remembered.set_cookie("remember_token", "1|whatever")
    get(remembered, f"/p/{post.slug}")
    client.post(f"/p/{post.slug}/comments")
    client.get("/login")
    client.get(f"/p/{post.slug}/")
    client.get(f"/p/{post.slug}", headers={"If-Match": '"x"'})
    assert len(flask_runs) == reached + 6


def test_an_untrusted_host_gets_flasks_400_not_the_cached_page(app, make_app, redis, redis_url):
    guarded = make_app(REDIS_URL=redis_url, TRUSTED_HOSTS=["blog.test"])
    with guarded.app_context():
        post = make_post(make_user(username="turing"))
        client = guarded.test_client()
        assert get(client, f"/p/{post.slug}", base_url="http://blog.test")[0].status_code == 200
        assert get(client, f"/p/{post.slug}", base_url="http://blog.test")[0].headers["X-Page-Cache"] == "hit"
        assert client.get(f"/p/{post.slug}", headers={"Host": "evil.example"}).status_code == 400
        db.session.remove()


def test_an_early_hit_is_counted_and_logged(cached, flask_runs, caplog):
    from blog import metrics

    client = cached.test_client()
    make_post(make_user(username="lovelace"))
    get(client, "/")
    cached.config["LOG_REQUESTS"] = True

    def count():
        return metrics.REQUESTS.labels(endpoint="public.index", method="GET", status="200")._value.get()

    before = count()
    with caplog.at_level("INFO", logger="blog.request"):
        hit = client.get("/", headers={"X-Request-ID": "c" * 32})
    assert hit.headers["X-Page-Cache"] == "hit" and len(flask_runs) == 1
    assert count() == before + 1
    lines = [r for r in caplog.records if r.name == "blog.request"]
    assert [(r.getMessage(), r.request_id, r.path, r.status) for r in lines] == [("GET / 200", "c" * 32, "/", 200)]


def test_search_pages_are_cached_per_query_and_see_new_posts_at_once(cached, redis):
    client = cached.test_client()
    make_post(make_user(username="finder"), title="Lighthouses of the north", source="Beams and lenses.")
    first, body = get(client, "/search?q=lighthouses")
    assert first.headers["X-Page-Cache"] == "miss" and "Lighthouses of the north" in body
    again, _ = get(client, "/search?q=lighthouses&utm=x")
    assert again.headers["X-Page-Cache"] == "hit"
    other, body = get(client, "/search?q=Lighthouses")  # as typed: the box shows the visitor's own words
    assert other.headers["X-Page-Cache"] == "miss" and 'value="Lighthouses"' in body
    make_post(make_user(username="keeper"), title="More lighthouses", source="Another beam.")
    fresh, body = get(client, "/search?q=lighthouses")
    assert fresh.headers["X-Page-Cache"] == "miss" and "More lighthouses" in body


def test_new_search_copies_are_rationed_per_minute(app, make_app, redis, redis_url, monkeypatch):
    monkeypatch.setattr(page_cache, "_minute", lambda: 29_000_000)  # one minute throughout the test
    rationed = make_app(REDIS_URL=redis_url, SEARCH_CACHE_PER_MINUTE=2)
    with rationed.app_context():
        client = rationed.test_client()
        for word in ("alpha", "beta", "gamma", "delta"):
            get(client, f"/search?q={word}")
        stored = redis.keys(page_cache.PAGE_PREFIX + "*search*")
        assert len(stored) == 2
        assert get(client, "/search?q=alpha")[0].headers["X-Page-Cache"] == "hit"
        assert get(client, "/search?q=delta")[0].headers["X-Page-Cache"] == "miss"
        get(client, "/")  # the reader pages are not rationed
        assert get(client, "/")[0].headers["X-Page-Cache"] == "hit"
        db.session.remove()


def test_the_key_holds_only_what_the_view_reads_each_value_escaped(cached, redis, flask_runs):
    client = cached.test_client()
    post = make_post(make_user(username="knuth"), title="One copy")
    for n in range(4):  # a post reads no query argument: one copy, and one canonical address
        response, body = get(client, f"/p/{post.slug}?page={n + 2}")
        assert response.status_code == 200 and f'href="http://blog.test/p/{post.slug}"' in body
    assert len(redis.keys(page_cache.PAGE_PREFIX + "*")) == 1
    # A value holding "&page=2" is not the argument page=2.
    make_post(make_user(username="ritchie"), title="Ampersands and pages", source="a & b")
    get(client, "/search?q=a%26page%3D2")
    assert get(client, "/search?q=a&page=2")[0].status_code == 404  # no second page of "a" in the index
    assert get(client, "/search?q=a%26page%3D2")[0].headers["X-Page-Cache"] == "hit"


def test_early_hits_keep_the_language_and_accept_weak_etags(cached, flask_runs):
    make_post(make_user(username="cervantes"))
    spanish = cached.test_client()
    spanish.set_cookie("locale", "es")
    get(spanish, "/")
    reached = len(flask_runs)
    response, body = get(spanish, "/")
    assert response.headers["X-Page-Cache"] == "hit" and 'lang="es"' in body and len(flask_runs) == reached
    by_header, body = get(cached.test_client(), "/", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert by_header.headers["X-Page-Cache"] == "hit" and 'lang="es"' in body
    weak = spanish.get("/", headers={"If-None-Match": f'W/{response.headers["ETag"]}'})  # as gzip proxies send it
    assert weak.status_code == 304 and "Content-Type" not in weak.headers and len(flask_runs) == reached


def test_behind_a_proxy_the_forwarded_host_is_checked_before_a_hit(app, make_app, redis, redis_url):
    proxied = make_app(REDIS_URL=redis_url, TRUSTED_HOSTS=["blog.test"], PROXY_COUNT=1)
    with proxied.app_context():
        post = make_post(make_user(username="hamilton"))
        client = proxied.test_client()
        for _ in range(2):
            response = client.get(f"/p/{post.slug}", headers={"X-Forwarded-Host": "blog.test"})
        assert response.headers["X-Page-Cache"] == "hit"
        assert client.get(f"/p/{post.slug}", headers={"X-Forwarded-Host": "evil.example"}).status_code == 400
        db.session.remove()
