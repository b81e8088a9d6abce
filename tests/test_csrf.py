"""CSRF stays on here: every state-changing POST without a valid token is refused with 400."""
import re

import pytest

from blog.extensions import db
from tests.factories import PASSWORD, make_user


@pytest.fixture
def csrf_app(app, make_app):  # `app` migrates the shared database and empties it afterwards
    protected = make_app(WTF_CSRF_ENABLED=True)
    with protected.app_context():
        yield protected


def token_from(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("path, data", [
    ("/login", {"login": "ada", "password": PASSWORD}),
    ("/register", {"username": "x1x", "email": "x@example.com", "password": "a" * 12, "confirm": "a" * 12}),
    ("/reset", {"email": "ada@example.com"}),
    ("/logout", {}),
])
def test_post_without_token_is_refused(csrf_app, path, data):
    response = csrf_app.test_client().post(path, data=data)
    assert response.status_code == 400
    assert "Bad request" in response.get_data(as_text=True)


def test_post_with_a_forged_token_is_refused(csrf_app):
    client = csrf_app.test_client()
    client.get("/login")
    response = client.post("/login", data={"login": "ada", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400


def test_post_with_the_pages_token_works(csrf_app):
    make_user(username="ada")
    client = csrf_app.test_client()
    token = token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"login": "ada", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    sign_out = token_from(client.get("/").get_data(as_text=True).replace(
        'name="csrf_token" value=', 'name="csrf_token" type="hidden" value='))
    assert client.post("/logout", data={"csrf_token": sign_out}).status_code == 302
    assert "Sign in" in client.get("/").get_data(as_text=True)


def test_signed_in_post_without_token_changes_nothing(csrf_app):
    user = make_user(username="ada", display_name="Before")
    client = csrf_app.test_client()
    token = token_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"login": "ada", "password": PASSWORD, "csrf_token": token})
    response = client.post("/settings/profile", data={"display_name": "After", "bio": "", "locale": "",
                                                      "timezone": ""})
    assert response.status_code == 400
    db.session.expire_all()
    assert user.display_name == "Before"
