"""The admin area over HTTP: who gets in, what the pages show, and what a POST may change."""
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from blog.exceptions import InvalidInput
from blog.extensions import db
from blog.models.audit import AuditEvent
from blog.models.user import User
from blog.permissions import OPERATOR
from blog.services import admin
from tests.factories import login, make_comment, make_post, make_user, now


def reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


def html(response):
    return response.get_data(as_text=True)


def admin_urls(user_id):
    gets = ["/admin/", "/admin/users", "/admin/users?q=x", f"/admin/users/{user_id}", "/admin/audit"]
    posts = [(f"/admin/users/{user_id}/role", {"role": "admin"}), (f"/admin/users/{user_id}/suspend", {}),
             (f"/admin/users/{user_id}/reinstate", {})]
    return gets, posts


@pytest.fixture
def boss(client):
    user = make_user("admin", username="boss")
    login(client, user)
    return user


# ---- access -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["reader", "author", "editor"])
def test_non_admins_get_403_on_every_admin_url(app, client, role):
    target = make_user("reader")
    login(client, make_user(role))
    gets, posts = admin_urls(target.id)
    for url in gets:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "You may not do that" in html(response)
    for url, data in posts:
        assert client.post(url, data=data).status_code == 403, url
    # Even an invalid role gets a 403, not a form error that would reveal the page.
    assert client.post(f"/admin/users/{target.id}/role", data={"role": "king"}).status_code == 403
    assert reload(target).role == "reader" and reload(target).status == "active"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    target = make_user("reader")
    gets, posts = admin_urls(target.id)
    for url in gets:
        response = client.get(url)
        assert response.status_code == 302, url
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login", url
        assert parse_qs(location.query)["next"][0].split("?")[0] == url.split("?")[0]
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    assert reload(target).role == "reader" and reload(target).status == "active"


def test_only_post_changes_state(app, client, boss):
    target = make_user("reader")
    for action in ("role", "suspend", "reinstate"):
        assert client.get(f"/admin/users/{target.id}/{action}").status_code == 405


def test_unknown_user_and_bad_pages_are_404(app, client, boss):
    assert client.get("/admin/users/999999").status_code == 404
    assert client.post("/admin/users/999999/suspend").status_code == 404
    assert client.post("/admin/users/999999/role", data={"role": "editor"}).status_code == 404
    for url in ("/admin/users?page=2", "/admin/users?page=0", "/admin/users?page=abc", "/admin/audit?page=5"):
        assert client.get(url).status_code == 404, url


# ---- pages ------------------------------------------------------------------------------------------

def test_dashboard_shows_the_counts(app, client, boss):
    make_user("reader", status="suspended")
    author = make_user("author")
    make_post(author, status="published", published_at=now() + timedelta(days=1))
    make_comment(make_post(author), status="pending")
    page = html(client.get("/admin/"))
    assert "<h1 class=\"page-title\">Dashboard</h1>" in page
    assert re.search(r'<a href="/admin/users\?role=reader">Reader</a></th>\s*<td class="num">2</td>', page)
    assert re.search(r'Scheduled</th><td class="num">1</td>', page)
    assert re.search(r'Published</th><td class="num">1</td>', page)
    assert re.search(r'Of those, suspended</a></th>\s*<td class="num">1</td>', page)
    assert "1 comment awaits moderation." in page
    assert 'aria-current="page">Dashboard' in page


def test_users_page_searches_filters_and_pages(app, client, boss):
    make_user("reader", username="needle_1", display_name="Nadia")
    make_user("reader", username="needlex1", display_name="Nick")
    for n in range(30):
        make_user("reader", username=f"filler{n:02d}")
    page = html(client.get("/admin/users"))
    assert '<label class="label" for="q">Search users</label>' in page
    assert "<caption>" in page and "33 users" in page
    assert '<th scope="col">Username</th>' in page and '<th scope="row">' in page
    assert "Page 1 of 2" in page and 'href="/admin/users?page=2"' in page
    found = html(client.get("/admin/users?q=needle_"))
    assert "needle_1" in found and "needlex1" not in found
    assert 'value="needle_"' in found and "1 user matches" in found
    filtered = html(client.get("/admin/users?q=fill&page=2"))
    assert "Page 2 of 2" in filtered and 'href="/admin/users?q=fill"' in filtered  # the pager keeps the query
    assert "No user matches" in html(client.get("/admin/users?q=zzz"))
    assert "1 user" in html(client.get("/admin/users?role=admin"))
    assert client.get("/admin/users?role=king").status_code == 200  # an unknown filter is not applied


def test_user_page_shows_the_account_a_role_form_and_a_suspend_button(app, client, boss):
    target = make_user("author", username="writer", email="writer@example.com", email_confirmed_at=None)
    admin.change_role(actor=OPERATOR, user_id=target.id, role="editor")
    page = html(client.get(f"/admin/users/{target.id}"))
    for text in ("writer", "writer@example.com", "Editor", "Active", "Email confirmed", "No", "Joined"):
        assert text in page
    assert '<select aria-describedby="role-hint" id="role" name="role">' in page
    assert '<option selected value="editor">Editor</option>' in page
    assert '<option value="admin">Administrator</option>' in page
    assert f'action="/admin/users/{target.id}/suspend"' in page and "reinstate" not in page
    assert "operator" in page and "Role:</span> Author → Editor" in page  # the history


def test_own_page_offers_no_self_changes(app, client, boss):
    page = html(client.get(f"/admin/users/{boss.id}"))
    assert "This is your own account" in page
    assert "/suspend" not in page and 'name="role"' not in page
    assert client.post(f"/admin/users/{boss.id}/role", data={"role": "reader"}).status_code == 403
    assert client.post(f"/admin/users/{boss.id}/suspend").status_code == 403
    assert reload(boss).role == "admin" and reload(boss).status == "active"


def test_audit_page_lists_events_with_actor_or_operator(app, client, boss):
    target = make_user("reader", username="target")
    admin.change_role(actor=boss, user_id=target.id, role="author")
    admin.suspend(actor=OPERATOR, user_id=target.id)
    page = html(client.get("/admin/audit"))
    assert "2 events, newest first" in page
    assert '<th scope="col">Before → after</th>' in page
    assert page.index("user.suspended") < page.index("user.role_changed")
    assert '<a href="/admin/users/%d">boss</a>' % boss.id in page
    assert ">operator<" in page
    assert "Role:</span> Reader → Author" in page and "Status:</span> Active → Suspended" in page
    assert f'href="/admin/users/{target.id}"' in page


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        sa.event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "before_cursor_execute", self)


def test_page_query_counts_do_not_grow_with_rows(app, client, boss):
    def counts():
        result = {}
        for url in ("/admin/", "/admin/users", "/admin/audit", f"/admin/users/{target.id}"):
            with QueryCounter() as counter:
                assert client.get(url).status_code == 200, url
            result[url] = counter.count
        return result

    target = make_user("reader")
    admin.suspend(actor=boss, user_id=target.id)
    few = counts()
    for _ in range(8):
        other = make_user("author")
        admin.change_role(actor=boss, user_id=other.id, role="editor")
        admin.reinstate(actor=boss, user_id=target.id)
        admin.suspend(actor=OPERATOR, user_id=target.id)
        make_post(other)
    assert counts() == few
    assert few["/admin/"] <= 5  # the signed-in user, the navigation pages, then users, posts, comments grouped


# ---- changes ----------------------------------------------------------------------------------------

def test_role_change_redirects_and_flashes(app, client, boss):
    target = make_user("reader", username="promoted")
    response = client.post(f"/admin/users/{target.id}/role", data={"role": "author"})
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/users/{target.id}"
    assert reload(target).role == "author"
    page = html(client.get(response.headers["Location"]))
    assert "promoted’s role is now Author." in page
    event = db.session.scalar(sa.select(AuditEvent))
    assert event.actor_id == boss.id and event.after == {"role": "author"}


def test_suspend_and_reinstate_redirect_and_flash(app, client, boss):
    target = make_user("author", username="naughty")
    response = client.post(f"/admin/users/{target.id}/suspend", follow_redirects=True)
    assert "naughty is suspended and has been signed out everywhere." in html(response)
    assert reload(target).status == "suspended"
    assert f'action="/admin/users/{target.id}/reinstate"' in html(response)
    response = client.post(f"/admin/users/{target.id}/reinstate")
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/users/{target.id}"
    assert "naughty is reinstated" in html(client.get(response.headers["Location"]))
    assert reload(target).status == "active"


def test_invalid_role_re_renders_the_page_with_the_error_next_to_the_field(app, client, boss):
    target = make_user("reader")
    response = client.post(f"/admin/users/{target.id}/role", data={"role": "king"})
    assert response.status_code == 422
    page = html(response)
    assert 'id="role-error"' in page and "Not a valid choice" in page and 'aria-invalid="true"' in page
    assert reload(target).role == "reader"


def test_a_rejected_role_change_keeps_the_chosen_value(app, client, boss, monkeypatch):
    target = make_user("reader")

    def refuse(**kwargs):
        raise InvalidInput({"role": ["Not now."], "_": ["Something about the whole form."]})

    monkeypatch.setattr(admin, "change_role", refuse)
    response = client.post(f"/admin/users/{target.id}/role", data={"role": "editor"})
    assert response.status_code == 422
    page = html(response)
    assert '<option selected value="editor">Editor</option>' in page
    assert re.search(r'<p class="error" id="role-error">Not now\.</p>', page)
    assert "Something about the whole form." in page
    assert reload(target).role == "reader"


def test_a_refused_suspension_shows_the_reason(app, client, boss, monkeypatch):
    target = make_user("reader")

    def refuse(**kwargs):
        raise InvalidInput({"_": ["Not this one."]})

    monkeypatch.setattr(admin, "suspend", refuse)
    response = client.post(f"/admin/users/{target.id}/suspend")
    assert response.status_code == 422 and "Not this one." in html(response)
    assert 'role="alert"' in html(response)


def test_posted_extra_fields_change_nothing_else(app, client, boss):
    target = make_user("reader", username="target", email="target@example.com")
    other = make_user("reader", username="other")
    response = client.post(f"/admin/users/{target.id}/role", data={
        "role": "author", "status": "suspended", "user_id": other.id, "id": other.id, "username": "hacked",
        "email": "hacked@example.com", "email_confirmed_at": "", "session_token": "x", "password_hash": "x",
    })
    assert response.status_code == 302
    target, other = reload(target), reload(other)
    assert (target.role, target.status, target.username, target.email) == ("author", "active", "target",
                                                                           "target@example.com")
    assert target.is_confirmed and target.session_token != "x" and target.password_hash != "x"
    assert (other.role, other.status) == ("reader", "active")
    client.post(f"/admin/users/{target.id}/suspend", data={"role": "admin", "user_id": other.id})
    target, other = reload(target), reload(other)
    assert (target.role, target.status) == ("author", "suspended")
    assert (other.role, other.status) == ("reader", "active")


def test_suspended_admin_loses_access_on_the_next_request(app, client):
    first = make_user("admin", username="first")
    second = make_user("admin", username="second")
    login(client, second)
    assert client.get("/admin/").status_code == 200
    other_client = app.test_client()
    login(other_client, first)
    assert other_client.post(f"/admin/users/{second.id}/suspend").status_code == 302
    response = client.get("/admin/users")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_posts_need_a_csrf_token_when_csrf_is_on(app, make_app):  # `app` empties the tables afterwards
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    with csrf_app.app_context():
        boss = make_user("admin")
        target = make_user("reader")
        client = csrf_app.test_client()
        login(client, boss)
        assert client.post(f"/admin/users/{target.id}/suspend").status_code == 400
        assert client.post(f"/admin/users/{target.id}/role", data={"role": "admin"}).status_code == 400
        page = html(client.get(f"/admin/users/{target.id}"))
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post(f"/admin/users/{target.id}/role", data={"role": "author", "csrf_token": token})
        assert response.status_code == 302
        assert reload(target).role == "author"
