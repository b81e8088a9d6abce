"""Every role against every protected action, over HTTP: 403 (or sign-in for anonymous), never a 500."""
import pytest

from blog.extensions import db
from tests.factories import login, make_post, make_user

ROLES = ["anonymous", "reader", "author", "editor", "admin"]
SIGN_IN = "sign-in"


def expect(allowed_from: str, ok: int) -> dict:
    """Anonymous users are sent to sign in; roles below ``allowed_from`` get 403; the rest get ``ok``."""
    rank = ROLES.index(allowed_from)
    return {role: (SIGN_IN if role == "anonymous" else 403 if i < rank else ok) for i, role in enumerate(ROLES)}


# (method, path template, expected status by role)
MATRIX = [
    ("GET", "/settings/profile", expect("reader", 200)),
    ("GET", "/settings/password", expect("reader", 200)),
    ("GET", "/settings/email", expect("reader", 200)),
    ("POST", "/confirm/resend", expect("reader", 302)),
    ("GET", "/admin/", expect("admin", 200)),
    ("GET", "/admin/users", expect("admin", 200)),
    ("GET", "/admin/users/{target}", expect("admin", 200)),
    ("GET", "/admin/audit", expect("admin", 200)),
    ("POST", "/admin/users/{target}/role", expect("admin", 302)),
    ("POST", "/admin/users/{target}/suspend", expect("admin", 302)),
    ("POST", "/admin/users/{target}/reinstate", expect("admin", 302)),
]


@pytest.fixture
def actors(app):
    users = {role: make_user(role, username=f"the-{role}") for role in ROLES if role != "anonymous"}
    users["admin2"] = make_user("admin", username="second-admin")  # so the last-admin rule never interferes
    users["target"] = make_user("reader", username="target")
    return users


@pytest.mark.parametrize("method, path, expected", MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client, actors, method, path, expected, role):
    if role != "anonymous":
        login(client, actors[role])
    url = path.format(target=actors["target"].id)
    data = {"role": "author"} if url.endswith("/role") else {}
    response = client.open(url, method=method, data=data)
    want = expected[role]
    if want == SIGN_IN:
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code == want, response.get_data(as_text=True)[:500]


@pytest.mark.parametrize("role, status", [("anonymous", 404), ("reader", 404), ("other-author", 404),
                                          ("owner", 200), ("editor", 200), ("admin", 200)])
def test_drafts_are_visible_only_to_their_author_and_editors(client, app, role, status):
    owner = make_user("author", username="owner")
    draft = make_post(owner, status="draft", title="Secret draft")
    users = {"reader": make_user("reader"), "other-author": make_user("author"), "owner": owner,
             "editor": make_user("editor"), "admin": make_user("admin")}
    if role != "anonymous":
        login(client, users[role])
    response = client.get(f"/p/{draft.slug}")
    assert response.status_code == status
    if status == 200:
        assert "it is not published" in response.get_data(as_text=True)


def test_suspended_users_lose_their_session_at_once(client, app):
    user = make_user("editor", username="soon-gone")
    login(client, user)
    assert client.get("/settings/profile").status_code == 200
    user.status = "suspended"
    db.session.commit()
    assert client.get("/settings/profile").status_code == 302
