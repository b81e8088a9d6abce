"""Comments over HTTP: who sees the form, what a failed post keeps, and the moderation pages."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from blog.extensions import db
from blog.models.audit import AuditEvent
from blog.models.comment import Comment
from tests.factories import login, make_comment, make_post, make_user

FORM = 'action="/p/{slug}/comments"'


def html(response):
    return response.get_data(as_text=True)


def all_comments():
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Comment).order_by(Comment.id)))


def textarea(page):
    match = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no comment form"
    return match.group(0), match.group(1)


@pytest.fixture
def post(app):
    return make_post(make_user("author", username="owner"), title="Open for comments")


# ---- the form, per kind of visitor ------------------------------------------------------------------

def test_anonymous_readers_get_a_sign_in_link_back_to_the_post(client, post):
    page = html(client.get(f"/p/{post.slug}"))
    assert FORM.format(slug=post.slug) not in page and "<textarea" not in page
    link = re.search(r'<a href="([^"]+)">Sign in to comment</a>', page).group(1)
    assert urlsplit(link).path == "/login"
    assert parse_qs(urlsplit(link).query)["next"] == [f"/p/{post.slug}"]


def test_unconfirmed_users_are_asked_to_confirm_instead_of_getting_the_form(client, post):
    login(client, make_user("reader", email_confirmed_at=None))
    page = html(client.get(f"/p/{post.slug}"))
    assert "<textarea" not in page
    assert "Confirm your email address to comment" in page
    assert 'action="/confirm/resend"' in page and f'name="next" value="/p/{post.slug}#comments"' in page


def test_confirmed_users_get_the_form_with_a_label_and_a_markdown_hint(client, post):
    login(client, make_user("reader"))
    page = html(client.get(f"/p/{post.slug}"))
    assert FORM.format(slug=post.slug) in page
    assert '<label class="label" for="body">Your comment</label>' in page
    tag, content = textarea(page)
    assert 'aria-describedby="body-hint"' in tag and content.strip() == ""
    assert re.search(r'<p class="hint" id="body-hint">Markdown works:.*At most 5000 characters\.</p>', page)
    assert '<button type="submit" class="button">Post comment</button>' in page


def test_unpublished_posts_show_no_form_even_to_their_author(client, app):
    author = make_user("author")
    draft = make_post(author, status="draft")
    login(client, author)
    page = html(client.get(f"/p/{draft.slug}"))
    assert "Comments open once the post is published." in page and "<textarea" not in page
    assert client.post(f"/p/{draft.slug}/comments", data={"body": "early"}).status_code == 404
    assert all_comments() == []


# ---- posting ----------------------------------------------------------------------------------------

def test_a_new_commenter_is_told_about_moderation_and_only_they_see_the_comment(client, app, post):
    me = make_user("reader", display_name="Me")
    login(client, me)
    response = client.post(f"/p/{post.slug}/comments", data={"body": "First *thoughts*"})
    comment = all_comments()[0]
    assert response.status_code == 302
    assert response.headers["Location"] == f"/p/{post.slug}#comment-{comment.id}"
    assert comment.status == "pending" and comment.author_id == me.id
    page = html(client.get(f"/p/{post.slug}"))
    assert "Thanks! Your comment will appear once a moderator approves it." in page
    assert f'id="comment-{comment.id}"' in page and "First <em>thoughts</em>" in page
    assert "Waiting for moderation" in page
    assert "0 comments" in page  # the count is of published comments

    other = client.application.test_client()
    assert "First <em>thoughts</em>" not in html(other.get(f"/p/{post.slug}"))
    login(other, make_user("reader"))
    assert "First <em>thoughts</em>" not in html(other.get(f"/p/{post.slug}"))


def test_a_trusted_commenter_is_published_at_once(client, post):
    me = make_user("reader")
    make_comment(make_post(post.author), me, status="approved")
    login(client, me)
    response = client.post(f"/p/{post.slug}/comments", data={"body": "Again"}, follow_redirects=True)
    page = html(response)
    assert "Your comment is published." in page
    assert "Again" in page and "Waiting for moderation" not in page
    assert "1 comment" in page


@pytest.mark.parametrize("body", ["", "   \r\n  "])
def test_an_empty_comment_is_refused_next_to_the_field(client, post, body):
    login(client, make_user("reader"))
    response = client.post(f"/p/{post.slug}/comments", data={"body": body})
    assert response.status_code == 422
    page = html(response)
    tag, _content = textarea(page)
    assert 'aria-invalid="true"' in tag and "body-error" in tag
    assert '<p class="error" id="body-error">Write something before posting.</p>' in page
    assert all_comments() == []


def test_a_too_long_comment_keeps_the_typed_text_escaped(client, app, post):
    login(client, make_user("reader"))
    typed = "</textarea><script>alert(1)</script>" + "x" * app.config["COMMENT_MAX_LENGTH"]
    response = client.post(f"/p/{post.slug}/comments", data={"body": typed})
    assert response.status_code == 422
    page = html(response)
    _tag, content = textarea(page)
    assert content.strip() == "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;" + "x" * 5000
    assert "<script>alert(1)" not in page
    assert "A comment can be at most 5000 characters long." in page
    assert all_comments() == []


def test_the_limit_counts_characters_as_the_browser_does(client, post):
    login(client, make_user("reader"))
    # 2,500 CRLF line breaks are 2,500 characters in the textarea, and blanks around the text do not count.
    for body in ("a\r\n" * 2500, "  " + "x" * 5000 + "\r\n"):
        assert client.post(f"/p/{post.slug}/comments", data={"body": body}).status_code == 302
    assert client.post(f"/p/{post.slug}/comments", data={"body": "x" * 5001}).status_code == 422
    assert len(all_comments()) == 2


def test_the_rate_limit_message_is_shown_with_the_text_kept(client, post):
    login(client, make_user("reader"))
    for i in range(5):
        assert client.post(f"/p/{post.slug}/comments", data={"body": f"c{i}"}).status_code == 302
    response = client.post(f"/p/{post.slug}/comments", data={"body": "number six"})
    assert response.status_code == 422
    page = html(response)
    assert "You are commenting too fast. Wait a minute and try again." in page
    assert textarea(page)[1].strip() == "number six"
    assert len(all_comments()) == 5


def test_an_unconfirmed_user_posting_gets_403_with_the_text_kept(client, post):
    login(client, make_user("reader", email_confirmed_at=None))
    response = client.post(f"/p/{post.slug}/comments", data={"body": "Let me in"})
    assert response.status_code == 403
    page = html(response)
    assert textarea(page)[1].strip() == "Let me in"
    assert '<p class="error" id="body-error">Confirm your email address before commenting.</p>' in page
    assert all_comments() == []


def test_anonymous_posts_are_sent_to_sign_in_and_come_back_to_the_comments(client, post):
    response = client.post(f"/p/{post.slug}/comments", data={"body": "Hi"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert all_comments() == []
    back = client.get(f"/p/{post.slug}/comments")
    assert back.status_code == 302 and back.headers["Location"] == f"/p/{post.slug}#comments"


def test_posting_to_an_unknown_post_is_404(client, app):
    login(client, make_user("reader"))
    assert client.post("/p/no-such-post/comments", data={"body": "Hi"}).status_code == 404


def test_hostile_markdown_is_cleaned_on_the_page(client, post):
    me = make_user("reader")
    make_comment(post, me, status="approved")
    login(client, me)
    client.post(f"/p/{post.slug}/comments",
                data={"body": "# Shout\n\n![x](https://evil.example/x.png)<script>alert(1)</script>ok"})
    page = html(client.get(f"/p/{post.slug}"))
    comments_part = page[page.index('id="comments"'):]
    assert "Shout" in comments_part and "<h1" not in comments_part
    assert "evil.example" not in page and "alert(1)" not in page


# ---- moderation pages -------------------------------------------------------------------------------

QUEUE = "/studio/comments/"
MODERATE = "/studio/comments/moderate"


@pytest.fixture
def staff(app):
    alice, bob = make_user("author", username="alice"), make_user("author", username="bob")
    on_alice = make_post(alice, title="Alice writes")
    on_bob = make_post(bob, title="Bob writes")
    return {"alice": alice, "bob": bob, "on_alice": on_alice, "on_bob": on_bob,
            "editor": make_user("editor", username="ed"), "admin": make_user("admin", username="root")}


@pytest.mark.parametrize("role, expected", [("anonymous", "sign-in"), ("reader", 403), ("author", 200),
                                            ("editor", 200), ("admin", 200)])
def test_who_may_open_the_moderation_pages(client, app, role, expected):
    comment = make_comment(make_post(make_user("author")), status="pending")
    if role != "anonymous":
        login(client, make_user(role))
    for method, url, data in [("GET", QUEUE, None), ("GET", QUEUE + "?status=rejected", None),
                              ("POST", MODERATE, {"comment_ids": [comment.id], "action": "approve"}),
                              ("POST", MODERATE, {}),  # even an empty form: 403, not a form error
                              ("POST", f"/studio/comments/{comment.id}/moderate", {"action": "approve"})]:
        response = client.open(url, method=method, data=data)
        if expected == "sign-in":
            assert response.status_code == 302, url
            location = urlsplit(response.headers["Location"])
            assert location.path == "/login" and parse_qs(location.query)["next"][0].startswith("/studio/comments/")
        elif expected == 403:
            assert response.status_code == 403, (method, url)
        elif method == "GET":
            assert response.status_code == 200, url
    if expected != 200:
        assert all_comments()[0].status == "pending"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_the_queue_lists_comments_with_everything_a_moderator_needs(client, staff):
    comment = make_comment(staff["on_alice"], make_user("reader", username="carol", display_name="Carol"),
                           status="pending", source="Is this **right**?")
    make_comment(staff["on_alice"], status="approved", source="Already fine")
    login(client, staff["editor"])
    page = html(client.get(QUEUE))
    assert f'action="{MODERATE}"' in page and 'method="post"' in page
    assert re.search(rf'<input type="checkbox" name="comment_ids" value="{comment.id}" id="select-{comment.id}">\s*'
                     rf'<label for="select-{comment.id}" class="visually-hidden">Select comment by Carol on '
                     r'“Alice writes”</label>', page)
    assert "Is this <strong>right</strong>?" in page and "Already fine" not in page
    assert "Carol" in page and f'href="/p/{staff["on_alice"].slug}">Alice writes</a>' in page
    assert "<time datetime=" in page
    for action in ("approve", "reject", "delete"):
        assert f'<button type="submit" name="action" value="{action}"' in page
    assert f'formaction="/studio/comments/{comment.id}/moderate"' in page
    assert '<a href="/studio/comments/" aria-current="page">Pending</a>' in page


def test_the_status_tabs_filter_and_unknown_statuses_show_pending(client, staff):
    make_comment(staff["on_bob"], status="pending", source="pending one")
    make_comment(staff["on_bob"], status="approved", source="approved one")
    make_comment(staff["on_bob"], status="rejected", source="rejected one")
    login(client, staff["admin"])
    for status in ("pending", "approved", "rejected"):
        page = html(client.get(f"{QUEUE}?status={status}"))
        shown = [s for s in ("pending one", "approved one", "rejected one") if s in page]
        assert shown == [f"{status} one"], status
        assert re.search(rf'aria-current="page">{status.capitalize()}</a>', page)
    assert "pending one" in html(client.get(f"{QUEUE}?status=<script>"))
    assert client.get(f"{QUEUE}?page=2").status_code == 404
    assert client.get(f"{QUEUE}?page=abc").status_code == 404


def test_authors_see_only_comments_on_their_own_posts(client, staff):
    make_comment(staff["on_alice"], status="pending", source="for alice")
    make_comment(staff["on_bob"], status="pending", source="for bob")
    login(client, staff["alice"])
    page = html(client.get(QUEUE))
    assert "for alice" in page and "for bob" not in page
    assert "You moderate the comments on your own posts." in page


def test_an_empty_queue_says_so(client, staff):
    login(client, staff["editor"])
    page = html(client.get(QUEUE))
    assert "No comments are waiting for moderation." in page and f'action="{MODERATE}"' not in page


def test_bulk_approve_redirects_back_with_a_count(client, staff):
    batch = [make_comment(staff["on_alice"], status="pending"), make_comment(staff["on_bob"], status="pending")]
    left = make_comment(staff["on_bob"], status="pending")
    login(client, staff["editor"])
    response = client.post(MODERATE, data={"comment_ids": [c.id for c in batch], "action": "approve",
                                           "status": "pending"})
    assert response.status_code == 302 and response.headers["Location"] == "/studio/comments/?status=pending"
    assert [c.status for c in all_comments()] == ["approved", "approved", "pending"]
    page = html(client.get(response.headers["Location"]))
    assert "2 comments approved." in page
    assert f'value="{left.id}"' in page and f'value="{batch[0].id}"' not in page


def test_bulk_reject_and_delete_name_their_counts(client, staff):
    one, two = make_comment(staff["on_alice"], status="pending"), make_comment(staff["on_alice"], status="pending")
    login(client, staff["alice"])
    response = client.post(MODERATE, data={"comment_ids": [one.id], "action": "reject", "status": "rejected"},
                           follow_redirects=True)
    assert "1 comment rejected." in html(response)
    assert response.request.path == "/studio/comments/" and response.request.args["status"] == "rejected"
    response = client.post(MODERATE, data={"comment_ids": [one.id, two.id], "action": "delete"},
                           follow_redirects=True)
    assert "2 comments deleted." in html(response)
    assert all_comments() == []
    actions = list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["comment.rejected", "comment.deleted", "comment.deleted"]


def test_a_row_button_acts_on_that_comment_only(client, staff):
    chosen, other = make_comment(staff["on_bob"], status="pending"), make_comment(staff["on_bob"], status="pending")
    login(client, staff["bob"])
    # The row's button submits the whole form (with any ticked boxes), but only its own comment changes.
    response = client.post(f"/studio/comments/{chosen.id}/moderate",
                           data={"action": "reject", "comment_ids": [other.id], "status": "pending"},
                           follow_redirects=True)
    assert "1 comment rejected." in html(response)
    assert [c.status for c in all_comments()] == ["rejected", "pending"]


def test_nothing_selected_or_a_bad_action_is_flashed_and_changes_nothing(client, staff):
    comment = make_comment(staff["on_bob"], status="pending")
    login(client, staff["editor"])
    response = client.post(MODERATE, data={"action": "approve"}, follow_redirects=True)
    assert response.status_code == 200 and "Select at least one comment." in html(response)
    response = client.post(MODERATE, data={"comment_ids": [comment.id], "action": "publish"}, follow_redirects=True)
    assert response.status_code == 200 and "Not a valid choice" in html(response)
    response = client.post(MODERATE, data={"comment_ids": ["abc"], "action": "approve"})
    assert response.status_code == 302
    assert all_comments()[0].status == "pending"


def test_an_author_cannot_moderate_another_authors_comment_even_in_a_batch(client, staff):
    hers = make_comment(staff["on_alice"], status="pending")
    his = make_comment(staff["on_bob"], status="pending")
    login(client, staff["alice"])
    assert client.post(MODERATE, data={"comment_ids": [hers.id, his.id], "action": "delete"}).status_code == 403
    assert client.post(f"/studio/comments/{his.id}/moderate", data={"action": "approve"}).status_code == 403
    assert [c.status for c in all_comments()] == ["pending", "pending"]
    assert client.post(MODERATE, data={"comment_ids": [999_999], "action": "approve"}).status_code == 404


def test_moderation_changes_state_only_by_post(client, staff):
    comment = make_comment(staff["on_bob"], status="pending")
    login(client, staff["editor"])
    assert client.get(MODERATE).status_code == 405
    assert client.get(f"/studio/comments/{comment.id}/moderate").status_code == 405
    assert all_comments()[0].status == "pending"


# ---- CSRF -------------------------------------------------------------------------------------------

def test_comment_and_moderation_forms_need_the_pages_csrf_token(app, make_app, post):
    protected = make_app(WTF_CSRF_ENABLED=True)
    with protected.app_context():
        editor = make_user("editor")
        client = protected.test_client()
        login(client, editor)
        assert client.post(f"/p/{post.slug}/comments", data={"body": "no token"}).status_code == 400
        page = html(client.get(f"/p/{post.slug}"))
        token = re.search(r'id="comment-form".*?name="csrf_token" value="([^"]+)"', page, re.S).group(1)
        response = client.post(f"/p/{post.slug}/comments", data={"body": "with token", "csrf_token": token})
        assert response.status_code == 302
        comment_id = all_comments()[0].id
        assert client.post(MODERATE, data={"comment_ids": [comment_id], "action": "delete"}).status_code == 400
        queue = html(client.get(f"{QUEUE}?status=approved"))
        token = re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', queue).group(1)
        response = client.post(MODERATE, data={"comment_ids": [comment_id], "action": "delete", "csrf_token": token})
        assert response.status_code == 302 and all_comments() == []
