"""Account rules at the service level."""
import time

import pytest
from werkzeug.security import check_password_hash

from blog.exceptions import InvalidInput, PermissionDenied
from blog.services import accounts, posts, tokens
from tests.conftest import link_in
from tests.factories import PASSWORD, make_user

GOOD = "a-strong passphrase 42"


def errors_of(call, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as info:
        call(**kwargs)
    return info.value.errors


@pytest.mark.parametrize("username, message", [
    ("ab", "Use 3 to 30"),
    ("a" * 31, "Use 3 to 30"),
    ("has space", "Use 3 to 30"),
    ("dot.name", "Use 3 to 30"),
    ("admin", "reserved"),
    ("Static", "reserved"),
    ("api", "reserved"),
    ("u", "Use 3 to 30"),
    ("аdmin", "only the letters A to Z"),  # Cyrillic а: a confusable
    ("ｅｖｅ", "only the letters A to Z"),  # full-width letters
    ("jose\u0301", "only the letters A to Z"),
])
def test_bad_usernames_are_refused(app, username, message):
    errors = errors_of(accounts.register, username=username, email="x@example.com", password=GOOD)
    assert message in errors["username"][0]


@pytest.mark.parametrize("username", ["abc", "Ada_Lovelace", "grace-h", "x" * 30, "user_2026"])
def test_good_usernames_are_accepted(app, username):
    assert accounts.register(username=username, email=f"{username}@example.com", password=GOOD).user.username == username


@pytest.mark.parametrize("email", ["plainaddress", "@example.com", "a@", "a b@example.com", "a@example..com", ""])
def test_invalid_emails_are_refused(app, email):
    assert "valid email" in errors_of(accounts.register, username="someone", email=email, password=GOOD)["email"][0]


def test_email_is_normalized_and_unique_ignoring_case(app):
    user = accounts.register(username="first", email="First.Person@EXAMPLE.com", password=GOOD).user
    assert user.email == "First.Person@example.com"
    errors = errors_of(accounts.register, username="second", email="first.person@example.COM", password=GOOD)
    assert errors == {"email": ["An account with this email address exists."]}
    assert errors_of(accounts.register, username="FIRST", email="f2@example.com", password=GOOD) == {
        "username": ["This username is taken."]}


@pytest.mark.parametrize("password, message", [
    ("short", "at least 10"),
    ("passwordpassword", "too common"),
    ("Password123", "too common"),
    ("1234567890", "too common"),
    ("qwertyuiop", "too common"),
    ("longusername", "differ from your username"),
    ("Longusername", "differ from your username"),
    ("long@example.com", "differ from your username"),
    ("x" * 201, "at most 200"),
])
def test_weak_passwords_are_refused(app, password, message):
    errors = errors_of(accounts.register, username="longusername", email="long@example.com", password=password)
    assert message in errors["password"][0]


def test_all_problems_are_reported_at_once(app):
    errors = errors_of(accounts.register, username="a", email="nope", password="x")
    assert set(errors) == {"username", "email", "password"}


def test_register_creates_an_unconfirmed_reader_and_mails_a_link(app, outbox):
    user = accounts.register(username="newbie", email="newbie@example.com", password=GOOD).user
    assert (user.role, user.is_confirmed) == ("reader", False)
    message = outbox.last()
    assert message["To"] == "newbie@example.com" and message["Subject"] == "Confirm your email address"
    assert link_in(message, "/confirm/")


def test_unconfirmed_users_cannot_publish(app):
    author = make_user("author", email_confirmed_at=None)
    with pytest.raises(PermissionDenied):
        posts.create_post(actor=author, title="Hi", source="x", status="published")
    assert posts.create_post(actor=author, title="Hi", source="x", status="draft").status == "draft"


def test_authenticate_by_username_or_email_with_one_message_for_every_failure(app):
    user = make_user(username="ada", email="ada@example.com")
    assert accounts.authenticate(login="ADA", password=PASSWORD) == user
    assert accounts.authenticate(login="Ada@Example.com", password=PASSWORD) == user
    wrong = errors_of(accounts.authenticate, login="ada", password="wrong password")
    unknown = errors_of(accounts.authenticate, login="nobody", password="wrong password")
    assert wrong == unknown == {"_": ["That username or email and password do not match."]}


def test_suspended_users_cannot_sign_in(app):
    make_user(username="gone", status="suspended")
    assert "suspended" in errors_of(accounts.authenticate, login="gone", password=PASSWORD)["_"][0]


def test_confirmation_token_confirms_once_and_expires(app):
    user = make_user(email_confirmed_at=None)
    token = tokens.make(tokens.CONFIRM_EMAIL, {"uid": user.id, "fp": tokens.fingerprint(user.email)})
    assert "expired" in errors_of(accounts.confirm_email, token=token, now=time.time() + 3 * 24 * 3600)["_"][0]
    assert accounts.confirm_email(token=token).is_confirmed
    assert accounts.confirm_email(token=token).is_confirmed  # following the link again changes nothing


def test_tokens_refuse_tampering_and_other_purposes(app):
    user = make_user()
    token = tokens.make(tokens.RESET_PASSWORD, {"uid": user.id, "fp": tokens.fingerprint(user.password_hash)})
    with pytest.raises(tokens.TokenInvalid):
        tokens.read(tokens.RESET_PASSWORD, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(tokens.TokenInvalid):
        tokens.read(tokens.CONFIRM_EMAIL, token)  # another purpose's salt
    assert "not valid" in errors_of(accounts.confirm_email, token=token)["_"][0]
    with pytest.raises(ValueError):
        tokens.make("make-admin", {})


def test_reset_token_expires_after_an_hour_and_works_once(app, outbox):
    user = make_user(email="reset@example.com")
    accounts.request_password_reset(email="RESET@example.com")
    token = link_in(outbox.last(), "/reset/").rsplit("/", 1)[1]
    assert "expired" in errors_of(accounts.reset_password, token=token, password=GOOD, now=time.time() + 3601)["_"][0]
    old_session = user.session_token
    accounts.reset_password(token=token, password=GOOD)
    assert check_password_hash(user.password_hash, GOOD)
    assert user.session_token != old_session  # every other session ends
    assert "not valid" in errors_of(accounts.reset_password, token=token, password="another strong one 7")["_"][0]


def test_reset_request_says_nothing_about_unknown_addresses(app, outbox):
    assert accounts.request_password_reset(email="nobody@example.com") is None
    assert accounts.request_password_reset(email="not an address") is None
    assert outbox.messages() == []


def test_reset_refuses_a_weak_new_password(app, outbox):
    make_user(email="weak@example.com")
    accounts.request_password_reset(email="weak@example.com")
    token = link_in(outbox.last(), "/reset/").rsplit("/", 1)[1]
    assert "too common" in errors_of(accounts.reset_password, token=token, password="password123")["password"][0]


def test_change_password_needs_the_current_one_and_ends_other_sessions(app):
    user = make_user()
    old = user.session_token
    assert errors_of(accounts.change_password, actor=user, current_password="nope", new_password=GOOD) == {
        "current_password": ["Your current password is not correct."]}
    assert "at least" in errors_of(accounts.change_password, actor=user, current_password=PASSWORD,
                                   new_password="short")["new_password"][0]
    accounts.change_password(actor=user, current_password=PASSWORD, new_password=GOOD)
    assert check_password_hash(user.password_hash, GOOD) and user.session_token != old


def test_email_change_waits_for_the_new_address_and_tells_the_old_one(app, outbox):
    user = make_user(email="old@example.com")
    other = make_user(email="taken@example.com")
    assert errors_of(accounts.request_email_change, actor=user, new_email="new@example.com", password="bad")[
        "password"]
    assert errors_of(accounts.request_email_change, actor=user, new_email="TAKEN@example.com", password=PASSWORD)[
        "new_email"] == ["An account with this email address exists."]
    accounts.request_email_change(actor=user, new_email="new@example.com", password=PASSWORD)
    assert user.email == "old@example.com"  # nothing changes before the link is followed
    message = outbox.last()
    assert message["To"] == "new@example.com"
    token = link_in(message, "/settings/email/confirm/").rsplit("/", 1)[1]
    accounts.confirm_email_change(token=token)
    assert user.email == "new@example.com" and user.is_confirmed
    notice = outbox.last()
    assert notice["To"] == "old@example.com" and "new@example.com" in notice.get_body(("plain",)).get_content()
    assert "not valid" in errors_of(accounts.confirm_email_change, token=token)["_"][0]  # works once
    assert other.email == "taken@example.com"


def test_profile_update_sanitizes_the_bio_and_checks_choices(app):
    user = make_user()
    accounts.update_profile(actor=user, display_name="  Ada   L. ", bio="Hi <script>alert(1)</script>**there**",
                            locale="de", timezone_name="Europe/Berlin")
    assert (user.display_name, user.locale, user.timezone) == ("Ada L.", "de", "Europe/Berlin")
    assert user.bio_html == "<p>Hi <strong>there</strong></p>\n" and "script" not in user.bio_html
    errors = errors_of(accounts.update_profile, actor=user, display_name="x" * 81, bio="", locale="xx",
                       timezone_name="Mars/Olympus")
    assert set(errors) == {"display_name", "locale", "timezone"}
