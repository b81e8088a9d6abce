"""The comment rules, at the service level: who may comment, what is kept, when it is approved, and moderation."""
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from blog import sanitize
from blog.config import Config, ConfigError, validate
from blog.exceptions import InvalidInput, NotFound, PermissionDenied
from blog.extensions import db
from blog.models.audit import AuditEvent
from blog.models.comment import Comment
from blog.models.user import User
from blog.services import comments
from tests.factories import make_comment, make_post, make_user, now


def reload(comment):
    db.session.expire_all()
    return db.session.get(Comment, comment.id)


def all_comments():
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Comment).order_by(Comment.id)))


def audit_rows():
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


@pytest.fixture
def post(app):
    return make_post(make_user("author", username="owner"), title="Open for comments")


# ---- settings ---------------------------------------------------------------------------------------

def test_settings_have_defaults_and_read_the_environment():
    assert Config.from_env({}).COMMENT_MAX_LENGTH == 5000
    assert Config.from_env({}).COMMENTS_PER_MINUTE == 5
    config = Config.from_env({"COMMENT_MAX_LENGTH": "200", "COMMENTS_PER_MINUTE": "2"})
    assert (config.COMMENT_MAX_LENGTH, config.COMMENTS_PER_MINUTE) == (200, 2)
    with pytest.raises(ConfigError, match="COMMENTS_PER_MINUTE must be a whole number"):
        Config.from_env({"COMMENTS_PER_MINUTE": "lots"})
    problems = validate(Config.from_env({"COMMENT_MAX_LENGTH": "0", "COMMENTS_PER_MINUTE": "0"}))
    assert "COMMENT_MAX_LENGTH must be at least 1" in problems
    assert "COMMENTS_PER_MINUTE must be at least 1" in problems


# ---- who may comment where --------------------------------------------------------------------------

def test_a_confirmed_reader_comments_and_waits_for_moderation(post):
    reader = make_user("reader")
    comment = comments.add_comment(actor=reader, post_id=post.id, source="  Great *read*!  \n")
    comment = reload(comment)
    assert comment.status == "pending"
    assert comment.source == "Great *read*!"
    assert comment.body_html.strip() == "<p>Great <em>read</em>!</p>"
    assert comment.sanitizer_version == sanitize.VERSION
    assert comment.author_id == reader.id and comment.post_id == post.id


@pytest.mark.parametrize("kind", ["anonymous", "unconfirmed", "suspended"])
def test_only_signed_in_active_confirmed_users_may_comment(post, kind):
    from flask_login import AnonymousUserMixin

    actor = {
        "anonymous": lambda: AnonymousUserMixin(),
        "unconfirmed": lambda: make_user("reader", email_confirmed_at=None),
        "suspended": lambda: make_user("reader", status="suspended"),
    }[kind]()
    with pytest.raises(PermissionDenied) as excinfo:
        comments.add_comment(actor=actor, post_id=post.id, source="Hello")
    assert excinfo.value.message  # translated, for the person reading it
    if kind == "unconfirmed":
        assert "Confirm your email address" in excinfo.value.message
    assert all_comments() == []


@pytest.mark.parametrize("setup", ["draft", "archived", "scheduled", "page", "missing"])
def test_only_published_visible_posts_take_comments(app, setup):
    editor = make_user("editor")
    if setup == "missing":
        post_id = 999_999
    elif setup == "scheduled":
        post_id = make_post(editor, published_at=now() + timedelta(hours=1)).id
    elif setup == "page":
        post_id = make_post(editor, kind="page").id
    else:
        post_id = make_post(editor, status=setup).id
    # Even someone who may edit the post cannot comment on it before readers can see it.
    with pytest.raises(NotFound):
        comments.add_comment(actor=editor, post_id=post_id, source="Hello")
    assert all_comments() == []


# ---- what is kept -----------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["", "   ", "\n\t\r\n", None])
def test_an_empty_comment_is_refused(post, source):
    with pytest.raises(InvalidInput) as excinfo:
        comments.add_comment(actor=make_user("reader"), post_id=post.id, source=source)
    assert list(excinfo.value.errors) == ["body"]
    assert all_comments() == []


def test_the_length_limit_counts_stripped_text_and_line_breaks_as_one(app, post):
    reader = make_user("reader")
    limit = app.config["COMMENT_MAX_LENGTH"]
    assert limit == 5000
    comments.add_comment(actor=reader, post_id=post.id, source="  " + "x" * limit + "\n\n")
    # CRLF line breaks count once, as browsers count them.
    comments.add_comment(actor=reader, post_id=post.id, source="a\r\n" * (limit // 2))
    with pytest.raises(InvalidInput) as excinfo:
        comments.add_comment(actor=reader, post_id=post.id, source="x" * (limit + 1))
    assert "at most 5000 characters" in excinfo.value.errors["body"][0]
    assert "5001" in excinfo.value.errors["body"][0]
    assert len(all_comments()) == 2
    assert all_comments()[1].source == ("a\n" * (limit // 2)).strip()


def test_the_length_limit_is_a_setting(app, post, make_app):
    short = make_app(COMMENT_MAX_LENGTH=10)
    with short.app_context():
        reader = make_user("reader")
        comments.add_comment(actor=reader, post_id=post.id, source="x" * 10)
        with pytest.raises(InvalidInput):
            comments.add_comment(actor=reader, post_id=post.id, source="x" * 11)


@pytest.mark.parametrize("source, kept, removed", [
    ("![cat](https://evil.example/cat.png)", [], ["<img", "evil.example"]),
    ("# Big heading\n\n## Smaller", ["Big heading", "Smaller"], ["<h1", "<h2"]),
    ("<h3>raw heading</h3>", ["raw heading"], ["<h3"]),
    ("| a | b |\n|---|---|\n| 1 | 2 |", [], ["<table", "<td"]),
    ("<script>alert(1)</script>hi", ["hi"], ["<script", "alert(1)"]),
    ('<img src=x onerror="alert(1)">', [], ["<img", "onerror"]),
    ("[click](javascript:alert(1))", ["click"], ["href", "<a"]),
    ('<a href="javascript:alert(1)">x</a>', ["x"], ["href", "javascript"]),
    ('<a href="https://ok.example" onclick="x()" style="color:red">ok</a>', ['href="https://ok.example"'],
     ["onclick", "style="]),
    ("<iframe src=https://evil.example></iframe>after", ["after"], ["<iframe", "evil.example"]),
    ('<p style="position:fixed">styled</p>', ["styled"], ["style="]),
    ("<svg><script>alert(1)</script></svg>", [], ["<svg", "alert"]),
    ("**bold**, `code`, > quote", ["<strong>bold</strong>", "<code>code</code>"], []),
    ("- one\n- two", ["<li>one</li>"], []),
])
def test_comments_keep_only_the_small_allowlist(post, source, kept, removed):
    comment = comments.add_comment(actor=make_user("reader"), post_id=post.id, source=source)
    html = reload(comment).body_html
    for fragment in kept:
        assert fragment in html, html
    for fragment in removed:
        assert fragment not in html, html
    assert reload(comment).source == source.strip()  # the source is stored as written


def test_a_nul_byte_is_stored_as_a_replacement_character_not_a_database_error(post):
    comment = comments.add_comment(actor=make_user("reader"), post_id=post.id,
                                   source='<a href="java\x00script:alert(1)">x</a>\x00')
    comment = reload(comment)
    assert "\x00" not in comment.source and "\ufffd" in comment.source
    assert "href" not in comment.body_html and "script" not in comment.body_html


def test_external_links_in_comments_are_marked_nofollow(post):
    comment = comments.add_comment(actor=make_user("reader"), post_id=post.id,
                                   source="[spam](https://spam.example) and [home](http://blog.test/p/x)")
    html = reload(comment).body_html
    assert 'href="https://spam.example" rel="nofollow ugc noopener"' in html
    assert '<a href="http://blog.test/p/x">home</a>' in html


# ---- rate limit -------------------------------------------------------------------------------------

def test_the_rate_limit_allows_five_a_minute_then_refuses_until_the_oldest_is_a_minute_old(post):
    reader = make_user("reader")
    start = now()
    for second in range(5):
        comments.add_comment(actor=reader, post_id=post.id, source=f"c{second}", now=start + timedelta(seconds=second))
    with pytest.raises(InvalidInput) as excinfo:
        comments.add_comment(actor=reader, post_id=post.id, source="too fast", now=start + timedelta(seconds=59))
    assert excinfo.value.errors == {"body": ["You are commenting too fast. Wait a minute and try again."]}
    with pytest.raises(InvalidInput):  # the first one is 59.999 s old: still inside the window
        comments.add_comment(actor=reader, post_id=post.id, source="too fast",
                             now=start + timedelta(seconds=59, microseconds=999_000))
    # Exactly 60 s after the first, it no longer counts.
    comments.add_comment(actor=reader, post_id=post.id, source="ok again", now=start + timedelta(seconds=60))
    assert [c.source for c in all_comments()] == ["c0", "c1", "c2", "c3", "c4", "ok again"]


def test_the_rate_limit_is_per_user_and_a_setting(app, post, make_app):
    start = now()
    first, second = make_user("reader"), make_user("reader")
    for i in range(5):
        comments.add_comment(actor=first, post_id=post.id, source=f"a{i}", now=start)
    comments.add_comment(actor=second, post_id=post.id, source="b", now=start)  # others are not slowed down
    strict = make_app(COMMENTS_PER_MINUTE=1)
    with strict.app_context():
        third = make_user("reader")
        comments.add_comment(actor=third, post_id=post.id, source="one", now=start)
        with pytest.raises(InvalidInput):
            comments.add_comment(actor=third, post_id=post.id, source="two", now=start + timedelta(seconds=30))


def test_the_rate_limit_counts_comments_in_any_state(post):
    reader = make_user("reader")
    start = now()
    for i in range(5):
        make_comment(post, reader, status=["pending", "rejected", "approved"][i % 3], source=f"x{i}")
    with pytest.raises(InvalidInput):
        comments.add_comment(actor=reader, post_id=post.id, source="sixth", now=start + timedelta(seconds=1))


@pytest.mark.postgres_only
def test_simultaneous_comments_cannot_slip_past_the_rate_limit(app, post):
    reader = make_user("reader")
    reader_id, post_id = reader.id, post.id
    for i in range(4):
        make_comment(post, reader, status="pending", source=f"x{i}")
    outcomes = []

    def comment(n):
        with app.app_context():
            try:
                comments.add_comment(actor=db.session.get(User, reader_id), post_id=post_id, source=f"race {n}")
                outcomes.append("posted")
            except InvalidInput:
                outcomes.append("refused")
            finally:
                db.session.remove()

    # Hold the commenter's row lock so all three requests have counted nothing before any may go on.
    with db.engine.connect() as blocker:
        transaction = blocker.begin()
        blocker.execute(sa.select(User.id).where(User.id == reader_id).with_for_update())
        threads = [threading.Thread(target=comment, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        assert outcomes == []  # all are waiting
        transaction.commit()
        for thread in threads:
            thread.join(timeout=10)
    assert sorted(outcomes) == ["posted", "refused", "refused"]
    assert len(all_comments()) == 5


# ---- approval ---------------------------------------------------------------------------------------

def test_a_commenter_with_an_approved_comment_anywhere_is_approved_at_once(post):
    reader = make_user("reader")
    elsewhere = make_post(make_user("author"))
    make_comment(elsewhere, reader, status="approved")
    assert comments.add_comment(actor=reader, post_id=post.id, source="Again").status == "approved"


def test_pending_or_rejected_history_does_not_earn_approval(post):
    reader = make_user("reader")
    make_comment(post, reader, status="pending")
    make_comment(post, reader, status="rejected")
    assert comments.add_comment(actor=reader, post_id=post.id, source="Hi").status == "pending"


@pytest.mark.parametrize("who, status", [("post-author", "approved"), ("editor", "approved"), ("admin", "approved"),
                                         ("other-author", "pending"), ("reader", "pending")])
def test_those_who_moderate_the_post_are_approved_at_once(post, who, status):
    actor = post.author if who == "post-author" else make_user(who.replace("other-", ""))
    assert comments.add_comment(actor=actor, post_id=post.id, source="Note").status == status


# ---- what readers see -------------------------------------------------------------------------------

def test_readers_see_approved_comments_oldest_first_and_their_own_pending_ones(post):
    me, other = make_user("reader"), make_user("reader")
    first = make_comment(post, other, status="approved", source="first")
    mine = make_comment(post, me, status="pending", source="mine, pending")
    make_comment(post, other, status="pending", source="theirs, pending")
    make_comment(post, me, status="rejected", source="mine, rejected")
    last = make_comment(post, other, status="approved", source="last")
    make_comment(make_post(post.author), other, status="approved", source="another post")
    first.created_at = now() - timedelta(hours=2)
    last.created_at = now() - timedelta(hours=1)
    db.session.commit()
    assert [c.source for c in comments.approved_comments(post=post)] == ["first", "last"]
    assert comments.pending_comments(post_id=post.id, viewer=None) == []
    assert [c.id for c in comments.pending_comments(post_id=post.id, viewer=me)] == [mine.id]
    # Staff see their own pending ones here too, not everyone's: the queue is the place for those.
    assert comments.pending_comments(post_id=post.id, viewer=make_user("admin")) == []


def test_approved_comments_is_one_query_with_authors_loaded(post):
    for _ in range(4):
        make_comment(post)
    db.session.expire_all()
    assert post.id  # reload the post itself before counting
    statements = []
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        shown = comments.approved_comments(post=post)
        names = [c.author.username for c in shown]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert len(names) == 4
    assert len(statements) == 1


def test_stale_comment_html_is_rendered_again_under_the_current_policy(post):
    comment = make_comment(post, source="![x](https://evil.example/x.png) text")
    comment.body_html = '<img src="https://evil.example/x.png"> text'
    comment.sanitizer_version = 0
    db.session.commit()
    shown = comments.approved_comments(post=post)
    assert "<img" not in shown[0].body_html
    assert reload(comment).sanitizer_version == sanitize.VERSION and "<img" not in reload(comment).body_html


# ---- the moderation queue ---------------------------------------------------------------------------

@pytest.fixture
def two_authors_posts(app):
    alice, bob = make_user("author", username="alice"), make_user("author", username="bob")
    return alice, bob, make_post(alice, title="Alice's"), make_post(bob, title="Bob's")


def test_editors_and_admins_see_every_pending_comment_newest_first(two_authors_posts):
    alice, bob, on_alice, on_bob = two_authors_posts
    old = make_comment(on_alice, status="pending", source="old")
    new = make_comment(on_bob, status="pending", source="new")
    make_comment(on_bob, status="approved", source="approved")
    old.created_at = now() - timedelta(hours=1)
    db.session.commit()
    for role in ("editor", "admin"):
        queue = comments.moderation_queue(actor=make_user(role))
        assert [c.id for c in queue.items] == [new.id, old.id]
        assert queue.items[0].post.title == "Bob's" and queue.items[0].author.username
        assert queue.page == 1 and not queue.has_next


def test_authors_see_only_the_comments_on_their_own_posts(two_authors_posts):
    alice, bob, on_alice, on_bob = two_authors_posts
    mine = make_comment(on_alice, status="pending")
    make_comment(on_bob, status="pending")
    assert [c.id for c in comments.moderation_queue(actor=alice).items] == [mine.id]
    assert comments.moderation_queue(actor=make_user("author")).items == []


def test_the_queue_filters_by_status_and_refuses_unknown_ones(two_authors_posts):
    alice, bob, on_alice, on_bob = two_authors_posts
    pending = make_comment(on_alice, status="pending")
    approved = make_comment(on_alice, status="approved")
    rejected = make_comment(on_alice, status="rejected")
    assert [c.id for c in comments.moderation_queue(actor=alice, status="pending").items] == [pending.id]
    assert [c.id for c in comments.moderation_queue(actor=alice, status="approved").items] == [approved.id]
    assert [c.id for c in comments.moderation_queue(actor=alice, status="rejected").items] == [rejected.id]
    for status in ("deleted", "", "pending' OR 1=1 --"):
        with pytest.raises(InvalidInput) as excinfo:
            comments.moderation_queue(actor=alice, status=status)
        assert list(excinfo.value.errors) == ["status"]


def test_the_queue_pages_and_refuses_pages_past_the_end(two_authors_posts):
    alice, bob, on_alice, on_bob = two_authors_posts
    for i in range(comments.QUEUE_PER_PAGE + 1):
        make_comment(on_alice, status="pending", source=f"c{i}")
    first = comments.moderation_queue(actor=alice)
    second = comments.moderation_queue(actor=alice, page=2)
    assert len(first.items) == comments.QUEUE_PER_PAGE and first.has_next
    assert len(second.items) == 1 and not second.has_next
    with pytest.raises(NotFound):
        comments.moderation_queue(actor=alice, page=3)


@pytest.mark.parametrize("role", ["reader", None])
def test_readers_and_anonymous_cannot_see_the_queue(app, role):
    from flask_login import AnonymousUserMixin

    actor = make_user(role) if role else AnonymousUserMixin()
    with pytest.raises(PermissionDenied):
        comments.moderation_queue(actor=actor)


def test_a_suspended_editor_cannot_see_the_queue(app):
    with pytest.raises(PermissionDenied):
        comments.moderation_queue(actor=make_user("editor", status="suspended"))


# ---- moderating -------------------------------------------------------------------------------------

@pytest.mark.parametrize("action, status", [("approve", "approved"), ("reject", "rejected")])
def test_moderate_changes_the_status_of_every_comment_and_audits_each(two_authors_posts, action, status):
    alice, bob, on_alice, on_bob = two_authors_posts
    editor = make_user("editor")
    batch = [make_comment(on_alice, status="pending"), make_comment(on_bob, status="pending")]
    assert comments.moderate(actor=editor, comment_ids=[c.id for c in batch], action=action) == 2
    assert [c.status for c in all_comments()] == [status, status]
    rows = audit_rows()
    assert [(r.action, r.target_type, r.target_id, r.actor_id, r.before, r.after) for r in rows] == [
        (f"comment.{status}", "comment", c.id, editor.id, {"status": "pending"}, {"status": status}) for c in batch
    ]


def test_delete_removes_the_comments_and_audits_each(two_authors_posts):
    alice, bob, on_alice, on_bob = two_authors_posts
    doomed = [make_comment(on_alice, status="rejected"), make_comment(on_alice, status="approved")]
    kept = make_comment(on_alice, status="pending")
    assert comments.moderate(actor=alice, comment_ids=[str(c.id) for c in doomed], action="delete") == 2
    assert [c.id for c in all_comments()] == [kept.id]
    assert [(r.action, r.target_id, r.before, r.after) for r in audit_rows()] == [
        ("comment.deleted", doomed[0].id, {"status": "rejected"}, None),
        ("comment.deleted", doomed[1].id, {"status": "approved"}, None),
    ]


def test_moderating_to_the_same_status_changes_and_records_nothing(post):
    approved = make_comment(post, status="approved")
    pending = make_comment(post, status="pending")
    ids = [approved.id, pending.id, pending.id]  # duplicates count once
    assert comments.moderate(actor=post.author, comment_ids=ids, action="approve") == 1
    assert [(r.target_id, r.before) for r in audit_rows()] == [(pending.id, {"status": "pending"})]


def test_rejecting_an_approved_comment_hides_it_from_readers(post):
    comment = make_comment(post, status="approved")
    comments.moderate(actor=make_user("editor"), comment_ids=[comment.id], action="reject")
    assert comments.approved_comments(post=post) == []
    assert comments.pending_comments(post_id=post.id, viewer=comment.author) == []  # rejected is not "own pending"


@pytest.mark.parametrize("role, allowed", [("post-author", True), ("editor", True), ("admin", True),
                                           ("other-author", False), ("reader", False)])
def test_who_may_moderate_a_comment(post, role, allowed):
    comment = make_comment(post, status="pending")
    actor = post.author if role == "post-author" else make_user(role.replace("other-", ""))
    if allowed:
        assert comments.moderate(actor=actor, comment_ids=[comment.id], action="approve") == 1
        assert reload(comment).status == "approved"
    else:
        with pytest.raises(PermissionDenied):
            comments.moderate(actor=actor, comment_ids=[comment.id], action="approve")
        assert reload(comment).status == "pending"
        assert audit_rows() == []


def test_an_author_cannot_sneak_another_authors_comment_into_a_batch(two_authors_posts):
    alice, bob, on_alice, on_bob = two_authors_posts
    hers = [make_comment(on_alice, status="pending") for _ in range(3)]
    his = make_comment(on_bob, status="pending")
    for action in ("approve", "reject", "delete"):
        with pytest.raises(PermissionDenied):
            comments.moderate(actor=alice, comment_ids=[c.id for c in hers] + [his.id], action=action)
        # All or nothing: not even her own comments changed.
        assert [c.status for c in all_comments()] == ["pending"] * 4
    assert audit_rows() == []


def test_an_unknown_id_refuses_the_whole_batch(post):
    comment = make_comment(post, status="pending")
    for bad in (999_999, 0, -1, 2**70, "abc"):
        with pytest.raises(NotFound):
            comments.moderate(actor=make_user("editor"), comment_ids=[comment.id, bad], action="delete")
    assert [c.id for c in all_comments()] == [comment.id] and reload(comment).status == "pending"
    assert audit_rows() == []


def test_moderate_refuses_unknown_actions_and_empty_or_huge_batches(post):
    editor = make_user("editor")
    comment = make_comment(post, status="pending")
    for action in ("publish", "", "APPROVE"):
        with pytest.raises(InvalidInput) as excinfo:
            comments.moderate(actor=editor, comment_ids=[comment.id], action=action)
        assert list(excinfo.value.errors) == ["action"]
    for ids in ([], None):
        with pytest.raises(InvalidInput) as excinfo:
            comments.moderate(actor=editor, comment_ids=ids, action="approve")
        assert list(excinfo.value.errors) == ["comment_ids"]
    with pytest.raises(InvalidInput) as excinfo:
        comments.moderate(actor=editor, comment_ids=range(1, comments.MODERATION_BATCH_MAX + 2), action="approve")
    assert "at most 100" in excinfo.value.errors["comment_ids"][0]
    assert reload(comment).status == "pending"


def test_a_reader_learns_nothing_about_comment_ids(post):
    reader = make_user("reader")
    with pytest.raises(PermissionDenied):
        comments.moderate(actor=reader, comment_ids=[999_999], action="approve")
    with pytest.raises(PermissionDenied):
        comments.moderate(actor=reader, comment_ids=[], action="nonsense")
