"""The rules of site administration, at the service level."""
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin
from werkzeug.security import check_password_hash

from blog.exceptions import InvalidInput, NotFound, PermissionDenied
from blog.extensions import db
from blog.models.audit import AuditEvent
from blog.models.user import User
from blog.permissions import OPERATOR
from blog.services import admin
from tests.factories import PASSWORD, login, make_comment, make_post, make_user, now

NEW_PASSWORD = "a brand new passphrase 7"


def audit_rows():
    return db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()


def reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


# ---- who may do what --------------------------------------------------------------------------------

def _every_call(target_id):
    return {
        "dashboard": lambda actor: admin.dashboard(actor=actor),
        "list_users": lambda actor: admin.list_users(actor=actor),
        "user_detail": lambda actor: admin.user_detail(actor=actor, user_id=target_id),
        "audit_log": lambda actor: admin.audit_log(actor=actor),
        "change_role": lambda actor: admin.change_role(actor=actor, user_id=target_id, role="editor"),
        "suspend": lambda actor: admin.suspend(actor=actor, user_id=target_id),
        "reinstate": lambda actor: admin.reinstate(actor=actor, user_id=target_id),
        "set_password": lambda actor: admin.set_password(actor=actor, user_id=target_id, password=NEW_PASSWORD),
    }


@pytest.mark.parametrize("role", ["reader", "author", "editor"])
def test_non_admins_may_do_nothing(app, role):
    make_user("admin")
    actor = make_user(role)
    target = make_user("reader")
    for name, call in _every_call(target.id).items():
        with pytest.raises(PermissionDenied):
            call(actor)
    assert reload(target).role == "reader" and reload(target).status == "active"
    assert audit_rows() == []


def test_anonymous_and_suspended_admins_may_do_nothing(app):
    make_user("admin")
    suspended_admin = make_user("admin", status="suspended")
    target = make_user("reader")
    for actor in (AnonymousUserMixin(), suspended_admin, None):
        for name, call in _every_call(target.id).items():
            with pytest.raises(PermissionDenied):
                call(actor)
    assert audit_rows() == []


def test_non_admins_learn_nothing_about_missing_users(app):
    reader = make_user("reader")
    with pytest.raises(PermissionDenied):
        admin.user_detail(actor=reader, user_id=999_999)
    with pytest.raises(PermissionDenied):
        admin.change_role(actor=reader, user_id=999_999, role="admin")


@pytest.mark.parametrize("actor_kind", ["admin", "operator"])
def test_admins_and_the_operator_may_do_everything(app, actor_kind):
    actor = make_user("admin") if actor_kind == "admin" else OPERATOR
    target = make_user("reader")
    results = {name: call(actor) for name, call in _every_call(target.id).items()}
    assert results["user_detail"][0].id == target.id
    target = reload(target)
    assert target.role == "editor" and target.status == "active"
    assert check_password_hash(target.password_hash, NEW_PASSWORD)
    expected_actor = None if actor_kind == "operator" else actor.id
    assert [(e.action, e.actor_id, e.target_id) for e in audit_rows()] == [
        ("user.role_changed", expected_actor, target.id),
        ("user.suspended", expected_actor, target.id),
        ("user.reinstated", expected_actor, target.id),
        ("user.password_reset", expected_actor, target.id),
    ]


def test_unknown_users_are_not_found(app):
    boss = make_user("admin")
    for call in (lambda: admin.user_detail(actor=boss, user_id=999_999),
                 lambda: admin.change_role(actor=boss, user_id=999_999, role="editor"),
                 lambda: admin.suspend(actor=OPERATOR, user_id=999_999),
                 lambda: admin.reinstate(actor=boss, user_id=999_999),
                 lambda: admin.set_password(actor=OPERATOR, user_id=999_999, password=NEW_PASSWORD)):
        with pytest.raises(NotFound):
            call()


def test_admins_cannot_change_themselves(app):
    boss = make_user("admin")
    make_user("admin")  # not the last admin: the refusal is about acting on oneself
    with pytest.raises(PermissionDenied, match="your own role"):
        admin.change_role(actor=boss, user_id=boss.id, role="reader")
    with pytest.raises(PermissionDenied, match="yourself"):
        admin.suspend(actor=boss, user_id=boss.id)
    with pytest.raises(PermissionDenied, match="yourself"):
        admin.reinstate(actor=boss, user_id=boss.id)
    with pytest.raises(PermissionDenied, match="your settings"):
        admin.set_password(actor=boss, user_id=boss.id, password=NEW_PASSWORD)
    boss = reload(boss)
    assert boss.role == "admin" and boss.status == "active" and check_password_hash(boss.password_hash, PASSWORD)
    assert audit_rows() == []


def test_an_admin_demoted_since_the_request_began_is_refused(app):
    boss = make_user("admin")
    target = make_user("reader")
    assert boss.role == "admin"  # loaded: the request's copy, which the first permission check sees
    with db.engine.begin() as other_transaction:  # another admin demotes boss meanwhile
        other_transaction.execute(sa.update(User).where(User.id == boss.id).values(role="editor"))
    with pytest.raises(PermissionDenied):
        admin.suspend(actor=boss, user_id=target.id)
    assert reload(target).status == "active"


# ---- roles ------------------------------------------------------------------------------------------

def test_change_role_records_before_and_after(app):
    boss = make_user("admin")
    target = make_user("reader")
    returned = admin.change_role(actor=boss, user_id=target.id, role="author")
    assert returned.id == target.id and reload(target).role == "author"
    (event,) = audit_rows()
    assert (event.action, event.actor_id, event.target_type, event.target_id) == (
        "user.role_changed", boss.id, "user", target.id)
    assert event.before == {"role": "reader"} and event.after == {"role": "author"}


def test_unchanged_role_is_a_no_op_without_an_audit_row(app):
    target = make_user("editor")
    assert admin.change_role(actor=OPERATOR, user_id=target.id, role="editor").role == "editor"
    assert audit_rows() == []


def test_unknown_role_is_invalid_input_on_the_role_field(app):
    target = make_user("reader")
    with pytest.raises(InvalidInput) as info:
        admin.change_role(actor=OPERATOR, user_id=target.id, role="king")
    assert list(info.value.errors) == ["role"]
    assert reload(target).role == "reader"


def test_the_last_active_admin_cannot_be_demoted(app):
    only = make_user("admin", username="only")
    make_user("admin", status="suspended")  # a suspended admin does not count
    with pytest.raises(InvalidInput) as info:
        admin.change_role(actor=OPERATOR, user_id=only.id, role="editor")
    assert "last active administrator" in info.value.errors["role"][0]
    assert "only" in info.value.errors["role"][0]
    assert reload(only).role == "admin" and audit_rows() == []


def test_an_admin_may_be_demoted_while_another_remains(app):
    first = make_user("admin")
    second = make_user("admin")
    admin.change_role(actor=first, user_id=second.id, role="editor")
    assert reload(second).role == "editor"
    with pytest.raises(InvalidInput):  # now first is the last one
        admin.change_role(actor=OPERATOR, user_id=first.id, role="reader")
    # Demoting a suspended admin never touches the last active one.
    suspended_admin = make_user("admin", status="suspended")
    admin.change_role(actor=OPERATOR, user_id=suspended_admin.id, role="reader")
    assert reload(suspended_admin).role == "reader"


@pytest.mark.postgres_only
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app):
    first, second = make_user("admin"), make_user("admin")
    first_id, second_id = first.id, second.id
    outcomes = {}

    def demote(actor_id, target_id):
        with app.app_context():
            try:
                actor = db.session.get(User, actor_id)
                admin.change_role(actor=actor, user_id=target_id, role="editor")
                outcomes[actor_id] = "demoted"
            except PermissionDenied:
                outcomes[actor_id] = "refused"
            finally:
                db.session.remove()

    # Hold the admins' row locks so both requests reach the lock before either may go on.
    with db.engine.connect() as blocker:
        transaction = blocker.begin()
        blocker.execute(sa.select(User.id).where(User.role == "admin").with_for_update())
        threads = [threading.Thread(target=demote, args=(first_id, second_id)),
                   threading.Thread(target=demote, args=(second_id, first_id))]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        assert outcomes == {}  # both are waiting
        transaction.commit()
        for thread in threads:
            thread.join(timeout=10)
    assert sorted(outcomes.values()) == ["demoted", "refused"]
    db.session.expire_all()
    roles = sorted(db.session.scalars(sa.select(User.role)))
    assert roles == ["admin", "editor"]


# ---- suspension -------------------------------------------------------------------------------------

def test_suspend_and_reinstate_record_status_and_are_idempotent(app):
    boss = make_user("admin")
    target = make_user("author")
    old_token = target.session_token
    admin.suspend(actor=boss, user_id=target.id)
    admin.suspend(actor=boss, user_id=target.id)
    target = reload(target)
    assert target.status == "suspended" and target.session_token != old_token
    admin.reinstate(actor=boss, user_id=target.id)
    admin.reinstate(actor=boss, user_id=target.id)
    assert reload(target).status == "active"
    events = audit_rows()
    assert [(e.action, e.before, e.after) for e in events] == [
        ("user.suspended", {"status": "active"}, {"status": "suspended"}),
        ("user.reinstated", {"status": "suspended"}, {"status": "active"}),
    ]


def test_the_last_active_admin_cannot_be_suspended(app):
    only = make_user("admin")
    with pytest.raises(InvalidInput) as info:
        admin.suspend(actor=OPERATOR, user_id=only.id)
    assert "last active administrator" in info.value.message
    assert reload(only).status == "active" and audit_rows() == []
    other = make_user("admin")
    admin.suspend(actor=OPERATOR, user_id=only.id)
    assert reload(only).status == "suspended" and reload(other).status == "active"


def test_suspension_ends_sessions_at_once_and_reinstating_does_not_revive_them(app, client):
    boss = make_user("admin")
    victim = make_user("admin")
    login(client, victim)
    assert client.get("/admin/").status_code == 200
    admin.suspend(actor=boss, user_id=victim.id)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    admin.reinstate(actor=boss, user_id=victim.id)
    assert client.get("/admin/").status_code == 302  # the old session's token no longer matches


# ---- passwords --------------------------------------------------------------------------------------

def test_set_password_checks_strength_rotates_sessions_and_records_no_hash(app):
    target = make_user("reader", username="walter", email="walter@example.com")
    old_hash, old_token = target.password_hash, target.session_token
    for weak in ("short", "walter@example.com", "password123"):
        with pytest.raises(InvalidInput) as info:
            admin.set_password(actor=OPERATOR, user_id=target.id, password=weak)
        assert list(info.value.errors) == ["password"]
    assert reload(target).password_hash == old_hash and audit_rows() == []
    admin.set_password(actor=OPERATOR, user_id=target.id, password=NEW_PASSWORD)
    target = reload(target)
    assert check_password_hash(target.password_hash, NEW_PASSWORD) and target.session_token != old_token
    (event,) = audit_rows()
    assert event.action == "user.password_reset" and event.actor_id is None
    assert event.before is None and event.after is None


# ---- reading ----------------------------------------------------------------------------------------

def test_dashboard_counts_every_role_state_and_pending_comments(app):
    boss = make_user("admin")
    make_user("reader")
    make_user("reader", status="suspended")
    author = make_user("author")
    make_post(author, status="draft")
    make_post(author, status="published")
    make_post(author, status="published")
    make_post(author, status="published", published_at=now() + timedelta(days=2))  # scheduled
    make_post(author, status="archived")
    make_post(make_user("editor"), status="published", kind="page")  # pages are not posts
    published = make_post(author)
    make_comment(published, status="pending")
    make_comment(published, status="pending")
    make_comment(published, status="approved")
    counts = admin.dashboard(actor=boss)
    # Readers: two made here and one per comment.
    assert counts.users_by_role == {"reader": 5, "author": 1, "editor": 1, "admin": 1}
    assert counts.users_total == 8 and counts.suspended == 1
    assert counts.posts_by_state == {"draft": 1, "scheduled": 1, "published": 3, "archived": 1}
    assert counts.comments_pending == 2


def test_dashboard_shows_zeros_for_an_empty_site(app):
    counts = admin.dashboard(actor=OPERATOR)
    assert counts.users_by_role == {"reader": 0, "author": 0, "editor": 0, "admin": 0}
    assert counts.posts_by_state == {"draft": 0, "scheduled": 0, "published": 0, "archived": 0}
    assert counts.suspended == 0 and counts.comments_pending == 0


def test_list_users_searches_case_insensitively_and_orders_by_username(app):
    make_user("reader", username="zed", email="zed@Example.com", display_name="Zed Shaw")
    make_user("reader", username="Anna", email="anna@other.org", display_name="Anna Karenina")
    make_user("reader", username="bob", email="bob@example.com", display_name="Robert")

    def names(**kwargs):
        return [u.username for u in admin.list_users(actor=OPERATOR, **kwargs).items]

    assert names() == ["Anna", "bob", "zed"]
    assert names(q="EXAMPLE.COM") == ["bob", "zed"]
    assert names(q="karen") == ["Anna"]
    assert names(q="  ANN ") == ["Anna"]
    assert names(q="nobody") == []


def test_list_users_takes_like_wildcards_literally(app):
    make_user("reader", username="a_b", display_name="x")
    make_user("reader", username="axb", display_name="x")
    make_user("reader", username="pct", display_name="100% sure")
    make_user("reader", username="pc2", display_name="1000 sure")
    make_user("reader", username="back", display_name="back\\slash")

    def names(q):
        return [u.username for u in admin.list_users(actor=OPERATOR, q=q).items]

    assert names("a_b") == ["a_b"]
    assert names("_") == ["a_b"]
    assert names("0%") == ["pct"]
    assert names("%") == ["pct"]
    assert names("\\") == ["back"]


def test_list_users_filters_by_role_and_status_and_pages(app):
    for _ in range(3):
        make_user("reader")
    make_user("editor", status="suspended")
    assert admin.list_users(actor=OPERATOR, role="editor").total == 1
    assert admin.list_users(actor=OPERATOR, status="suspended").items[0].role == "editor"
    assert admin.list_users(actor=OPERATOR, role="reader", status="suspended").total == 0
    with pytest.raises(InvalidInput):
        admin.list_users(actor=OPERATOR, role="king")
    second = admin.list_users(actor=OPERATOR, page=2, per_page=3)
    assert len(second.items) == 1 and second.pages == 2
    assert admin.list_users(actor=OPERATOR, q="nobody").total == 0  # an empty first page is fine
    for page in (0, 3, 10**9):
        with pytest.raises(NotFound):
            admin.list_users(actor=OPERATOR, page=page, per_page=3)


def test_audit_log_is_newest_first_and_paginated(app):
    targets = [make_user("reader") for _ in range(3)]
    for target in targets:
        admin.suspend(actor=OPERATOR, user_id=target.id)
    log = admin.audit_log(actor=OPERATOR, page=1, per_page=2)
    assert [e.target_id for e in log.items] == [targets[2].id, targets[1].id]
    assert log.pages == 2
    with pytest.raises(NotFound):
        admin.audit_log(actor=OPERATOR, page=3, per_page=2)


def test_user_detail_lists_the_latest_events_about_that_user_only(app):
    boss = make_user("admin")
    target = make_user("reader")
    other = make_user("reader")
    admin.change_role(actor=boss, user_id=target.id, role="author")
    admin.suspend(actor=OPERATOR, user_id=other.id)
    admin.suspend(actor=OPERATOR, user_id=target.id)
    user, history = admin.user_detail(actor=boss, user_id=target.id)
    assert user.id == target.id
    assert [(e.action, e.actor.username if e.actor else None) for e in history] == [
        ("user.suspended", None), ("user.role_changed", boss.username)]
