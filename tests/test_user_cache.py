"""The signed-in user's row kept in Redis (blog/user_cache.py): a signed-in page needs no SQL to know its
reader, and no change to a user (suspension, role, session token, profile) or to their comments is ever
missed, in any process, from the next request on."""
import json
import logging

import pytest
import sqlalchemy as sa

from blog import user_cache
from blog.extensions import db
from blog.models.post import Post
from blog.models.user import User
from blog.services import accounts, admin, comments
from tests.factories import login, make_comment, make_post, make_user
from tests.support import count_statements


def signed_in(app, user):
    client = app.test_client()
    login(client, user)
    return client


def user_selects(statements) -> list[str]:
    return [s for s in statements if "FROM users" in s]


def stored(redis, user) -> dict:
    return json.loads(redis.get(f"{user_cache.PREFIX}{user.id}"))


def fresh_session():
    """What a new request in another process has: nothing of the test's objects in its identity map."""
    db.session.remove()


def test_the_second_request_loads_the_reader_without_sql_and_the_secrets_stay_in_the_database(cached, redis):
    reader = make_user("reader", username="rita", display_name="Rita")
    client = signed_in(cached, reader)
    fresh_session()
    assert "Sign out" in client.get("/settings/profile").get_data(as_text=True)
    entry = stored(redis, reader)
    assert entry["columns"]["username"] == "rita" and entry["columns"]["session_token"] == reader.session_token
    assert not {"password_hash", "totp_secret", "totp_last_step"} & set(entry["columns"])
    fresh_session()
    with count_statements() as statements:
        page = client.get("/settings/profile").get_data(as_text=True)
    assert "Rita" in page and user_selects(statements) == []


def test_a_user_from_the_cache_is_a_real_one_of_the_session(cached, redis):
    reader = make_user("reader", username="rita")
    reader_id, password_hash = reader.id, reader.password_hash
    fresh_session()
    user_cache.get(reader_id)  # stores the row
    fresh_session()
    with count_statements() as statements:
        user = user_cache.get(reader_id)
    assert statements == [] and user in db.session and not db.session.is_modified(user)
    assert user.created_at.tzinfo is not None and user.email_confirmed_at.tzinfo is not None
    with count_statements() as statements:
        assert user.password_hash == password_hash  # a secret: loaded from the database when read
    assert len(user_selects(statements)) == 1
    user.display_name = "Changed through a cached row"
    db.session.commit()
    fresh_session()
    assert db.session.get(User, reader_id).display_name == "Changed through a cached row"


def test_a_suspension_in_another_process_ends_the_session_at_the_next_request(cached, redis):
    root_id = make_user("admin", username="root").id
    reader = make_user("reader", username="rita")
    reader_id = reader.id
    client = signed_in(cached, reader)
    fresh_session()
    assert "Sign out" in client.get("/").get_data(as_text=True)
    assert redis.get(f"{user_cache.PREFIX}{reader_id}") is not None
    admin.suspend(actor=db.session.get(User, root_id), user_id=reader_id)
    fresh_session()
    assert "Sign out" not in client.get("/").get_data(as_text=True)
    assert client.get("/settings/profile").status_code == 302  # to the sign-in page


@pytest.mark.parametrize("change", ["sign out everywhere", "statement"])
def test_a_new_session_token_ends_the_old_cookie_at_once(cached, redis, change):
    reader = make_user("reader", username="rita")
    client = signed_in(cached, reader)
    fresh_session()
    assert "Sign out" in client.get("/").get_data(as_text=True)
    if change == "statement":  # a write that bypasses the ORM's flush
        db.session.execute(sa.update(User).where(User.id == reader.id).values(session_token="rotated-by-sql"))
        db.session.commit()
    else:
        accounts.sign_out_everywhere(actor=db.session.get(User, reader.id))
    fresh_session()
    assert "Sign out" not in client.get("/").get_data(as_text=True)


def test_a_new_role_shows_at_the_next_request(cached, redis):
    root_id = make_user("admin", username="root").id
    writer = make_user("reader", username="wendy")
    writer_id = writer.id
    client = signed_in(cached, writer)
    fresh_session()
    assert "Studio" not in client.get("/").get_data(as_text=True)
    admin.change_role(actor=db.session.get(User, root_id), user_id=writer_id, role="author")
    fresh_session()
    assert "Studio" in client.get("/").get_data(as_text=True)
    assert client.get("/studio/posts").status_code == 200


def test_a_row_read_before_a_change_is_never_stored_as_current(cached, redis, monkeypatch):
    reader = make_user("reader", username="rita")
    reader_id = reader.id
    fresh_session()
    user_cache.get(reader_id)  # a generation exists
    redis.delete(f"{user_cache.PREFIX}{reader_id}")
    fresh_session()
    real_get = db.session.get

    def read_then_suspended_elsewhere(model, ident):
        row = real_get(model, ident)  # read while still active...
        if model is User and ident == reader_id:
            with sa.orm.Session(db.engine) as other:  # ...then another process suspends her
                other.execute(sa.update(User).where(User.id == reader_id).values(status="suspended"))
                other.commit()
            user_cache._new_generation(user_cache._state())  # as that process's commit does
        return row

    monkeypatch.setattr(db.session, "get", read_then_suspended_elsewhere)
    assert user_cache.get(reader_id).status == "active"  # this request began before the change
    monkeypatch.undo()
    fresh_session()
    assert user_cache.get(reader_id).status == "suspended"  # the stored row was already stale


def test_a_readers_own_pending_comment_shows_at_once_and_the_post_page_asks_nothing_otherwise(cached, redis):
    post = make_post(make_user(username="ada"), title="Shared title")
    reader = make_user("reader", username="rita")
    url = f"/p/{post.slug}"
    client = signed_in(cached, reader)
    fresh_session()
    client.get(url)
    with count_statements() as statements:
        response = client.get(url)
    assert response.headers["X-Page-Cache"] == "shell-hit" and statements == []  # no pending comments: no SQL
    assert stored(redis, reader)["pending_comments"] is False

    posted = client.post(f"{url}/comments", data={"body": "Mine, waiting"})
    assert posted.status_code in (302, 303)
    fresh_session()
    body = client.get(url).get_data(as_text=True)
    assert "Mine, waiting" in body and "Waiting for moderation" in body
    assert stored(redis, reader)["pending_comments"] is True

    pending = db.session.scalars(sa.select(comments.Comment).where(comments.Comment.source == "Mine, waiting")).one()
    comments.moderate(actor=db.session.get(User, post.author_id), comment_ids=[pending.id], action="approve")
    fresh_session()
    body = client.get(url).get_data(as_text=True)
    assert "Mine, waiting" in body and "Waiting for moderation" not in body
    assert stored(redis, reader)["pending_comments"] is False


def test_someone_elses_comment_changes_do_not_hide_a_readers_pending_one(cached, redis):
    post = make_post(make_user(username="ada"), title="Shared title")
    reader = make_user("reader", username="rita")
    make_comment(post, reader, status="pending", source="Mine, waiting")
    url, post_id = f"/p/{post.slug}", post.id
    client = signed_in(cached, reader)
    fresh_session()
    for _ in range(2):
        assert "Mine, waiting" in client.get(url).get_data(as_text=True)
    make_comment(db.session.get(Post, post_id), status="approved", source="Someone else's")
    fresh_session()
    body = client.get(url).get_data(as_text=True)
    assert "Mine, waiting" in body and "Someone else" in body


def test_a_row_another_release_stored_is_loaded_anew(cached, redis, caplog):
    reader = make_user("reader", username="rita", display_name="Rita")
    client = signed_in(cached, reader)
    fresh_session()
    client.get("/")
    key = f"{user_cache.PREFIX}{reader.id}"
    entry = json.loads(redis.get(key))
    del entry["columns"]["display_name"]  # as a release with one column fewer would have written it
    redis.set(key, json.dumps(entry))
    fresh_session()
    with caplog.at_level(logging.WARNING, logger="blog.user_cache"):
        assert "Rita" in client.get("/settings/profile").get_data(as_text=True)
    assert "could not use the stored row" in caplog.text
    assert "display_name" in stored(redis, reader)["columns"]


def test_without_redis_the_reader_loads_from_the_database(app, make_app, caplog):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
    with broken.app_context():
        root_id = make_user("admin", username="root").id
        reader = make_user("reader", username="rita")
        reader_id = reader.id
        client = signed_in(broken, reader)
        fresh_session()
        with caplog.at_level(logging.WARNING, logger="blog.user_cache"):
            assert "Sign out" in client.get("/").get_data(as_text=True)
        assert "user cache: new generation failed" in caplog.text  # logged, and the cache paused
        admin.suspend(actor=db.session.get(User, root_id), user_id=reader_id)
        fresh_session()
        assert "Sign out" not in client.get("/").get_data(as_text=True)
        db.session.remove()


def test_off_when_the_ttl_is_zero(app, make_app, redis, redis_url):
    off = make_app(REDIS_URL=redis_url, USER_CACHE_TTL=0)
    with off.app_context():
        reader = make_user("reader", username="rita")
        client = signed_in(off, reader)
        fresh_session()
        assert "Sign out" in client.get("/").get_data(as_text=True)
        assert redis.keys(f"{user_cache.PREFIX}*") == []
        db.session.remove()
