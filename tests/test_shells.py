"""Signed-in reader pages from cached shells (blog/views/shells.py): the shared part of a page is stored
once per language and time zone, each reader's own regions are rendered per request, and every change
readers can see is seen at once."""
import re

import pytest

from blog import page_cache
from blog.extensions import db
from blog.services import comments
from blog.views import shells
from tests.factories import login, make_comment, make_post, make_user
from tests.support import count_statements


def get(client, url, **kwargs):
    response = client.get(url, **kwargs)
    return response, response.get_data(as_text=True)


def signed_in(app, user):
    client = app.test_client()
    login(client, user)
    return client


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)


def test_a_hit_is_the_page_a_miss_renders_without_the_listing_queries(cached):
    make_post(make_user(username="ada"), title="Shared title")
    reader = make_user("reader", username="rita", display_name="Rita")
    client = signed_in(cached, reader)
    first, rendered = get(client, "/")
    assert first.headers["X-Page-Cache"] == "shell-miss" and "Shared title" in rendered and "Sign out" in rendered
    with count_statements() as statements:
        second, served = get(client, "/")
    assert second.headers["X-Page-Cache"] == "shell-hit"
    assert without_tokens(served) == without_tokens(rendered)
    assert "<!--" not in served.replace("<!--[", "")  # no marker reaches a reader
    # No SQL at all: no posts, tags or navigation, and the reader's row comes from blog/user_cache.py.
    assert statements == []
    assert "ETag" not in second.headers and "public" not in second.headers.get("Cache-Control", "")


def test_each_reader_gets_their_own_links_token_and_messages_in_a_shared_shell(app, make_app, redis, redis_url):
    guarded = make_app(REDIS_URL=redis_url, WTF_CSRF_ENABLED=True)  # tokens checked, as in production
    with guarded.app_context():
        post = make_post(make_user(username="ada"), title="Shared title")
        writer = make_user("author", username="wendy")
        reader = make_user("reader", username="rita")
        unconfirmed = make_user("reader", username="newbie", email="newbie@example.com", email_confirmed_at=None)
        url = f"/p/{post.slug}"
        assert get(signed_in(guarded, writer), url)[0].headers["X-Page-Cache"] == "shell-miss"

        client = signed_in(guarded, reader)
        with client.session_transaction() as session:
            session["_flashes"] = [("success", "Only for Rita")]
        response, body = get(client, url)
        assert response.headers["X-Page-Cache"] == "shell-hit"
        assert "Shared title" in body and "Only for Rita" in body and "Studio" not in body
        assert "Only for Rita" not in get(client, url)[1]  # a flash is shown once

        writer_page = get(signed_in(guarded, writer), url)[1]
        assert "Studio" in writer_page and "Only for Rita" not in writer_page
        assert "newbie@example.com" in get(signed_in(guarded, unconfirmed), url)[1]  # the confirm notice
        # One shell for the readers who may comment, one for those who may not (the form differs).
        assert sorted(k.decode().split(":")[2] for k in redis.keys(page_cache.PAGE_PREFIX + shells.SHELL_PREFIX + "*")) \
            == ["c", "u"]

        # The tokens in a hit's forms are this reader's own: the comment form and sign-out both work.
        body = get(client, url)[1]
        tokens = re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', body)
        assert len(tokens) == 2
        posted = client.post(f"/p/{post.slug}/comments", data={"csrf_token": tokens[1], "body": "From a hit"})
        assert posted.status_code in (302, 303)
        assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
        assert "Sign out" in get(client, url)[1]
        assert client.post("/logout", data={"csrf_token": tokens[0]}).status_code in (302, 303)
        assert "Sign out" not in get(client, url)[1]
        db.session.remove()


def test_a_post_shell_shows_each_reader_their_own_pending_comment_and_a_form(cached):
    post = make_post(make_user(username="ada"), title="Commented")
    rita = make_user("reader", username="rita")
    carl = make_user("reader", username="carl")
    make_comment(post, make_user("reader"), source="Approved words")
    make_comment(post, rita, status="pending", source="Rita waits")
    url = f"/p/{post.slug}"
    assert get(signed_in(cached, carl), url)[0].headers["X-Page-Cache"] == "shell-miss"
    response, body = get(signed_in(cached, rita), url)
    assert response.headers["X-Page-Cache"] == "shell-hit"
    assert "Approved words" in body and "Rita waits" in body and "Waiting for moderation" in body
    assert 'id="comment-form"' in body and f'action="/p/{post.slug}/comments"' in body
    response, body = get(signed_in(cached, carl), url)
    assert response.headers["X-Page-Cache"] == "shell-hit" and "Rita waits" not in body
    assert "1 comment" in body and 'id="comment-form"' in body


def test_changes_are_seen_at_once(cached):
    editor = make_user("editor", username="ed")
    post = make_post(editor, title="Before the change")
    client = signed_in(cached, make_user("reader"))
    get(client, "/")
    get(client, f"/p/{post.slug}")
    make_post(editor, title="A new post")
    response, body = get(client, "/")
    assert response.headers["X-Page-Cache"] == "shell-miss" and "A new post" in body
    comment = make_comment(post, status="pending", source="Now approved")
    assert "Now approved" not in get(client, f"/p/{post.slug}")[1]
    comments.moderate(actor=editor, comment_ids=[comment.id], action="approve")
    assert "Now approved" in get(client, f"/p/{post.slug}")[1]


def test_a_page_only_its_author_may_see_is_never_stored(cached, redis):
    author = make_user("author", username="drafter")
    draft = make_post(author, title="Secret draft", status="draft")
    client = signed_in(cached, author)
    for _ in range(2):
        response, body = get(client, f"/p/{draft.slug}")
        assert response.status_code == 200 and "Secret draft" in body
        assert "X-Page-Cache" not in response.headers and "<!--" not in body.replace("<!--[", "")
    assert redis.keys(page_cache.PAGE_PREFIX + shells.SHELL_PREFIX + "*") == []
    assert get(signed_in(cached, make_user("reader")), f"/p/{draft.slug}")[0].status_code == 404


def test_each_language_and_time_zone_has_its_own_shell(cached, redis):
    make_post(make_user(username="ada"), title="Worldwide")
    spanish = signed_in(cached, make_user("reader", locale="es"))
    tokyo = signed_in(cached, make_user("reader", timezone="Asia/Tokyo"))
    plain = signed_in(cached, make_user("reader"))
    for client in (spanish, tokyo, plain):
        assert get(client, "/")[0].headers["X-Page-Cache"] == "shell-miss"
    assert 'lang="es"' in get(spanish, "/")[1] and 'lang="en"' in get(plain, "/")[1]
    keys = sorted(key.decode() for key in redis.keys(page_cache.PAGE_PREFIX + shells.SHELL_PREFIX + "*"))
    assert len(keys) == 3 and any("Asia/Tokyo" in key for key in keys)


def test_text_that_looks_like_a_marker_stays_text(cached):
    title = '<!--0123456789abcdef:["account"]--> x <!--/0123456789abcdef-->'
    post = make_post(make_user(username="ada"), title=title)
    client = signed_in(cached, make_user("reader"))
    get(client, f"/p/{post.slug}")
    response, body = get(client, f"/p/{post.slug}")
    assert response.headers["X-Page-Cache"] == "shell-hit"
    assert "&lt;!--0123456789abcdef:" in body and body.count("Sign out") == 1


def test_without_redis_signed_in_pages_still_render(app, make_app):
    from tests.support import free_port

    down = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with down.app_context():
        make_post(make_user(username="ada"), title="Still here")
        client = signed_in(down, make_user("reader"))
        for _ in range(2):
            response, body = get(client, "/")
            assert response.status_code == 200 and "Still here" in body and "X-Page-Cache" not in response.headers
        db.session.remove()


def test_signed_in_pages_are_private_and_carry_no_other_readers_query(cached):
    make_post(make_user(username="ada"), title="Shared title")
    planted, other = signed_in(cached, make_user("reader")), signed_in(cached, make_user("reader"))
    first, body = get(planted, "/?utm_source=newsletter&subscriber=alice%40example.com")
    assert first.headers["X-Page-Cache"] == "shell-miss" and "alice" not in body
    response, body = get(other, "/")
    assert response.headers["X-Page-Cache"] == "shell-hit"
    assert "alice" not in body and "utm_source" not in body and 'name="next" value="/"' in body
    for answer in (first, response):
        assert answer.headers["Cache-Control"] == "private, no-cache"


def test_a_shell_that_cannot_be_filled_is_rendered_anew(cached, redis, caplog):
    make_post(make_user(username="ada"), title="Shared title")
    client = signed_in(cached, make_user("reader"))
    get(client, "/")
    [key] = redis.keys(page_cache.PAGE_PREFIX + shells.SHELL_PREFIX + "*")
    version, etag, content_type, _body = redis.get(key).split(b"\0", 3)
    redis.set(key, b"\0".join((version, etag, content_type, b'["<p>old</p>",["renamed-region"]]')))
    response, body = get(client, "/")
    assert response.status_code == 200 and "Shared title" in body and "<p>old</p>" not in body
    assert response.headers["X-Page-Cache"] == "shell-miss" and "could not be filled" in caplog.text
    assert get(client, "/")[0].headers["X-Page-Cache"] == "shell-hit"


def test_only_this_requests_markers_are_split_out():
    nonce, other = "a" * 16, "b" * 16
    body = (f'<p>1</p><!--{nonce}:["comments",7,"x"]--><b>mine</b><!--/{nonce}-->'
            f'<!--{other}:["account"]-->kept<!--/{other}--><i>2</i>')
    parts, plain = shells._split(body, nonce)
    assert parts == ["<p>1</p>", ["comments", 7, "x"], f'<!--{other}:["account"]-->kept<!--/{other}--><i>2</i>']
    assert plain == f'<p>1</p><b>mine</b><!--{other}:["account"]-->kept<!--/{other}--><i>2</i>'


def test_regions_do_not_nest(cached):
    from flask import g, render_template_string

    with cached.test_request_context("/"):
        g._shell = shells._Recording("key", b"1")
        with pytest.raises(RuntimeError, match="do not nest"):
            render_template_string('{% call viewer_region("a") %}{% call viewer_region("b") %}x{% endcall %}'
                                   '{% endcall %}')


def test_a_shell_that_would_carry_its_readers_csrf_token_is_not_stored(cached, redis, caplog):
    from flask import Response, g, render_template_string

    with cached.test_request_context("/"):
        recording = g._shell = shells._Recording("leaky", page_cache.bump())
        recording.shareable = True
        body = render_template_string('<form>{{ csrf_field() }}</form>'
                                      '{% call viewer_region("account") %}{{ csrf_token() }}{% endcall %}')
        assert body.count(recording.nonce) == 4  # two regions: csrf_field() and the account
        shells.store_shell(Response(body, content_type=shells.CONTENT_TYPE))
        assert redis.get(page_cache.PAGE_PREFIX + "leaky") is not None  # tokens only inside regions: stored

        recording = g._shell = shells._Recording("raw", page_cache.bump())
        recording.shareable = True
        body = render_template_string('<input name="csrf_token" value="{{ csrf_token() }}">')
        response = shells.store_shell(Response(body, content_type=shells.CONTENT_TYPE))
    assert redis.get(page_cache.PAGE_PREFIX + "raw") is None
    assert "a CSRF token outside the viewer regions" in caplog.text
    assert "csrf_token" in response.get_data(as_text=True)  # the reader still gets their page


def test_readers_who_may_not_comment_share_a_shell_of_their_own(cached):
    post = make_post(make_user(username="ada"), title="Commented")
    url = f"/p/{post.slug}"
    confirmed = signed_in(cached, make_user("reader"))
    unconfirmed = [signed_in(cached, make_user("reader", email_confirmed_at=None)) for _ in range(2)]
    get(confirmed, url)
    assert get(unconfirmed[0], url)[0].headers["X-Page-Cache"] == "shell-miss"
    response, body = get(unconfirmed[1], url)
    assert response.headers["X-Page-Cache"] == "shell-hit"
    assert "Send me the confirmation link again" in body and 'id="comment-form"' not in body
    response, body = get(confirmed, url)
    assert response.headers["X-Page-Cache"] == "shell-hit"
    assert 'id="comment-form"' in body and "Send me the confirmation link again" not in body
