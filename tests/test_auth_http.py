"""Sign-up, sign-in, confirmation, reset and settings through the real forms."""
import pytest
from werkzeug.security import check_password_hash

from blog.services.accounts import get_by_login
from tests.conftest import email_parts, link_in
from tests.factories import PASSWORD, login, make_user

GOOD = "a-strong passphrase 42"


def sign_in(client, login_name, password=PASSWORD, **extra):
    return client.post("/login", data={"login": login_name, "password": password, **extra})


def test_register_signs_in_and_mails_a_confirmation_link_that_works(client, outbox):
    response = client.post("/register", data={"username": "newbie", "email": "newbie@example.com",
                                              "password": GOOD, "confirm": GOOD}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "We sent a confirmation link to newbie@example.com" in html
    assert "Please confirm your email address" in html  # the banner for unconfirmed users
    message = outbox.last()
    text, body_html = email_parts(message)
    path = link_in(message, "/confirm/")
    assert path in body_html
    page = client.get(path)
    assert page.status_code == 200 and "Confirm my address" in page.get_data(as_text=True)
    assert not get_by_login("newbie").is_confirmed  # a GET changes nothing (mail scanners fetch links)
    confirmed = client.post(path, follow_redirects=True)
    assert "your email address is confirmed" in confirmed.get_data(as_text=True)
    assert get_by_login("newbie").is_confirmed


def test_rejected_registration_keeps_what_was_typed_except_passwords(client):
    response = client.post("/register", data={"username": "ad min", "email": "keep@example.com",
                                              "password": "short", "confirm": "short"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="ad min"' in html and 'value="keep@example.com"' in html
    assert 'value="short"' not in html
    assert "Use 3 to 30 letters" in html and "Use at least 10 characters." in html
    assert 'aria-invalid="true"' in html


def test_mismatched_password_confirmation_is_shown(client):
    response = client.post("/register", data={"username": "someone", "email": "s@example.com",
                                              "password": GOOD, "confirm": GOOD + "x"})
    assert "The passwords do not match." in response.get_data(as_text=True)


def test_sign_in_by_username_or_email_then_sign_out_by_post(client):
    make_user(username="ada", email="ada@example.com", display_name="Ada")
    assert sign_in(client, "ada@example.com").status_code == 302
    assert "Sign out" in client.get("/").get_data(as_text=True)
    assert client.get("/logout").status_code == 405  # never a GET
    client.post("/logout")
    assert "Sign in" in client.get("/").get_data(as_text=True)
    assert sign_in(client, "ADA").status_code == 302


def test_failed_sign_in_keeps_the_login_and_gives_one_message(client):
    make_user(username="ada")
    for login_name in ("ada", "nobody"):
        response = sign_in(client, login_name, password="wrong password")
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "That username or email and password do not match." in html
        assert f'value="{login_name}"' in html and "wrong password" not in html


def test_suspended_user_cannot_sign_in(client):
    make_user(username="gone", status="suspended")
    assert "suspended" in sign_in(client, "gone").get_data(as_text=True)


@pytest.mark.parametrize("target, expected", [
    ("/p/some-post", "/p/some-post"),
    ("/settings/profile?tab=1", "/settings/profile?tab=1"),
    ("//evil.example", "/"),
    ("/\\evil.example", "/"),
    ("https:evil.example", "/"),
    ("https://evil.example/", "/"),
    ("%2F%2Fevil.example", "/"),
    ("/%2F%2Fevil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("\t//evil.example", "/"),
])
def test_next_only_redirects_within_the_site(client, target, expected):
    make_user(username="ada")
    response = sign_in(client, "ada", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_protected_pages_redirect_to_sign_in_with_next(client):
    response = client.get("/settings/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fsettings%2Fprofile"
    assert 'name="next" type="hidden" value="/settings/profile"' in client.get(response.headers["Location"]).get_data(
        as_text=True)


def test_sign_in_rotates_the_session(client):
    make_user(username="ada")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client, "ada")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_remember_me_sets_a_long_lived_httponly_cookie(client, app):
    make_user(username="ada")
    sign_in(client, "ada", remember="y")
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only
    assert cookie.expires is not None
    without = app.test_client()
    sign_in(without, "ada")
    assert without.get_cookie("remember_token") is None


def test_reset_flow_answers_identically_and_the_link_works_once(client, outbox):
    make_user(username="ada", email="ada@example.com")
    known = client.post("/reset", data={"email": "ada@example.com"}, follow_redirects=True).get_data(as_text=True)
    unknown = client.post("/reset", data={"email": "nobody@example.com"}, follow_redirects=True).get_data(
        as_text=True)
    assert known.replace("ada@example.com", "X") == unknown.replace("nobody@example.com", "X")
    assert len(outbox.messages()) == 1
    path = link_in(outbox.last(), "/reset/")
    assert client.get(path).status_code == 200
    done = client.post(path, data={"password": GOOD, "confirm": GOOD}, follow_redirects=True)
    assert "Your password is changed" in done.get_data(as_text=True)
    assert check_password_hash(get_by_login("ada").password_hash, GOOD)
    again = client.post(path, data={"password": GOOD + "!", "confirm": GOOD + "!"})
    assert again.status_code == 422 and "not valid or has already been used" in again.get_data(as_text=True)


def test_password_change_signs_out_other_sessions_but_not_this_one(app):
    user = make_user(username="ada")
    here, elsewhere = app.test_client(), app.test_client()
    login(here, user)
    login(elsewhere, user)
    response = here.post("/settings/password", data={"current_password": PASSWORD, "new_password": GOOD,
                                                      "confirm": GOOD}, follow_redirects=True)
    assert "signed out everywhere else" in response.get_data(as_text=True)
    assert here.get("/settings/profile").status_code == 200
    assert elsewhere.get("/settings/profile").status_code == 302


def test_wrong_current_password_is_shown_next_to_the_field(client):
    login(client, make_user())
    response = client.post("/settings/password", data={"current_password": "nope", "new_password": GOOD,
                                                       "confirm": GOOD})
    assert response.status_code == 422
    assert 'id="current_password-error">Your current password is not correct.' in response.get_data(as_text=True)


def test_sign_out_everywhere_ends_all_sessions(app):
    user = make_user()
    here, elsewhere = app.test_client(), app.test_client()
    login(here, user)
    login(elsewhere, user)
    assert here.post("/settings/sign-out-everywhere").headers["Location"] == "/login"
    assert here.get("/settings/profile").status_code == 302
    assert elsewhere.get("/settings/profile").status_code == 302


def test_profile_form_saves_and_shows_errors(client):
    user = make_user(username="ada")
    login(client, user)
    page = client.get("/settings/profile").get_data(as_text=True)
    assert '<option value="de">Deutsch</option>' in page and "Europe/Berlin" in page
    saved = client.post("/settings/profile", data={"display_name": "Ada L.", "bio": "I *write*.", "locale": "",
                                                   "timezone": "Europe/Paris"}, follow_redirects=True)
    assert "Your profile is saved." in saved.get_data(as_text=True)
    assert "<em>write</em>" in client.get("/u/ada").get_data(as_text=True)
    bad = client.post("/settings/profile", data={"display_name": "Kept", "bio": "Kept bio", "locale": "xx",
                                                 "timezone": "Mars/Base"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Not a valid choice" in html
    assert 'value="Kept"' in html and "Kept bio</textarea>" in html


def test_profile_form_cannot_change_role_or_status(client):
    user = make_user("reader", username="sneaky")
    login(client, user)
    client.post("/settings/profile", data={"display_name": "S", "bio": "", "locale": "", "timezone": "",
                                           "role": "admin", "status": "active", "email_confirmed_at": "x",
                                           "username": "admin2"})
    user = get_by_login("sneaky")
    assert (user.role, user.username, user.display_name) == ("reader", "sneaky", "S")


def test_email_change_through_the_forms(client, outbox):
    user = make_user(username="ada", email="old@example.com")
    login(client, user)
    response = client.post("/settings/email", data={"new_email": "new@example.com", "password": PASSWORD},
                           follow_redirects=True)
    assert "We sent a link to new@example.com" in response.get_data(as_text=True)
    path = link_in(outbox.last(), "/settings/email/confirm/")
    client.post(path)
    assert get_by_login("ada").email == "new@example.com"
    assert outbox.last()["To"] == "old@example.com"


def test_unconfirmed_user_can_resend_the_confirmation(client, outbox):
    login(client, make_user("reader", email="late@example.com", email_confirmed_at=None))
    response = client.post("/confirm/resend", data={"next": "/settings/email"})
    assert response.headers["Location"] == "/settings/email"
    assert outbox.last()["To"] == "late@example.com"

