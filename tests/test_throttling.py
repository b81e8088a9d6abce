"""Abuse controls over HTTP, with Flask-Limiter counting in the real Redis and in memory (the embedded default)."""
import hashlib
import logging
import re

import pytest

from tests.factories import PASSWORD, login, make_post, make_user
from tests.support import free_port

TOO_MANY = re.compile(r"Too many attempts\. Try again in (\d+) minutes?\.")


@pytest.fixture(params=["memory", "redis"])
def limited(request, app, make_app):
    """Build an app with the limits on (and any setting overridden), counting in memory or in Redis."""
    backend = {}
    if request.param == "redis":
        backend = {"REDIS_URL": request.getfixturevalue("redis_url")}
        request.getfixturevalue("redis")  # empties the run's Redis database before and after

    contexts = []

    def _build(**overrides):
        built = make_app(RATELIMIT_ENABLED=True, **backend, **overrides)
        context = built.app_context()
        context.push()
        contexts.append(context)
        return built

    _build.backend = request.param
    yield _build
    for context in reversed(contexts):
        context.pop()


def sign_in(client, login_name, password=PASSWORD, ip="127.0.0.1", **extra):
    return client.post("/login", data={"login": login_name, "password": password, **extra},
                       environ_base={"REMOTE_ADDR": ip})


def assert_too_many(response, minutes=None):
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert retry_after > 0
    match = TOO_MANY.search(html)
    assert match, html
    if minutes is not None:
        assert int(match.group(1)) == minutes
    assert int(match.group(1)) == -(-retry_after // 60)  # the message and the header agree
    return html


def test_five_failures_lock_the_account_even_with_the_right_password(limited):
    client = limited().test_client()
    make_user(username="ada")
    make_user(username="bob")
    for _ in range(5):
        assert sign_in(client, "ada", password="wrong password").status_code == 422
    response = sign_in(client, "ADA ", remember="y", next="/settings/profile")  # the name is normalized
    html = assert_too_many(response, minutes=15)
    assert 880 <= int(response.headers["Retry-After"]) <= 900
    assert 'value="ADA "' in html and PASSWORD not in html  # what was typed stays, except the password
    assert 'value="/settings/profile"' in html and 'checked' in html
    assert sign_in(client, "bob").status_code == 302  # other accounts are not affected


def test_successful_sign_ins_do_not_count_against_the_account(limited):
    client = limited().test_client()
    make_user(username="ada")
    for _ in range(4):
        assert sign_in(client, "ada", password="wrong password").status_code == 422
    for _ in range(3):
        assert sign_in(client, "ada").status_code == 302
        client.post("/logout")
    assert sign_in(client, "ada", password="wrong password").status_code == 422  # the fifth failure
    assert sign_in(client, "ada").status_code == 429


def test_unknown_login_names_behave_exactly_like_real_ones(limited):
    app = limited()
    make_user(username="ada")
    answers = {}
    for name in ("ada", "nobody"):
        client = app.test_client()
        seen = []
        for _ in range(6):
            response = sign_in(client, name, password="wrong password")
            html = response.get_data(as_text=True).replace(f'value="{name}"', 'value="NAME"')
            message = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', html, re.S).group(1).strip()
            seen.append((response.status_code, message, "Retry-After" in response.headers))
        answers[name] = seen
    assert answers["ada"] == answers["nobody"]
    assert [status for status, _m, _r in answers["ada"]] == [422] * 5 + [429]


def test_twenty_sign_in_attempts_per_address_across_accounts(limited):
    app = limited()
    make_user(username="ada")
    client = app.test_client()
    for n in range(20):  # four failures each for five names: no account limit is reached
        assert sign_in(client, f"someone{n % 5}", password="wrong password").status_code == 422
    assert_too_many(sign_in(client, "ada"), minutes=60)
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "ada", ip="203.0.113.7").status_code == 302


def test_an_ipv6_subnet_counts_as_one_address(limited):
    app = limited(LOGIN_LIMIT_IP="2 per hour")
    client = app.test_client()
    for suffix in ("1", "2"):
        response = sign_in(client, "x", password="wrong password", ip=f"2001:db8::{suffix}")
        assert response.status_code == 422
    assert sign_in(client, "y", ip="2001:db8::3").status_code == 429
    assert sign_in(client, "y", ip="2001:db8:0:1::3").status_code == 422


def test_reset_requests_are_limited_per_address_typed_and_per_client(limited):
    app = limited(RESET_LIMIT_EMAIL="2 per hour", RESET_LIMIT_IP="4 per hour")
    client = app.test_client()
    for _ in range(2):
        assert client.post("/reset", data={"email": "ada@example.com"}).status_code == 302
    html = assert_too_many(client.post("/reset", data={"email": "Ada@Example.com"}), minutes=60)
    assert 'value="Ada@Example.com"' in html
    # A refused request counts against no other limit: bob's and carol's are the 3rd and 4th from here.
    assert client.post("/reset", data={"email": "bob@example.com"}).status_code == 302
    assert client.post("/reset", data={"email": "carol@example.com"}).status_code == 302
    assert_too_many(client.post("/reset", data={"email": "dave@example.com"}))
    other = app.test_client()
    response = other.post("/reset", data={"email": "carol@example.com"}, environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert response.status_code == 302


def test_registration_is_limited_per_client(limited):
    app = limited(REGISTER_LIMIT_IP="2 per hour")
    client = app.test_client()
    form = {"username": "newbie", "email": "newbie@example.com", "password": "a-strong passphrase 42",
            "confirm": "not the same"}
    for _ in range(2):
        assert client.post("/register", data=form).status_code == 422
    html = assert_too_many(client.post("/register", data=form), minutes=60)
    assert 'value="newbie"' in html and 'value="newbie@example.com"' in html
    assert "a-strong passphrase 42" not in html


def test_wrong_passwords_on_the_settings_forms_are_limited_together(limited):
    # A borrowed session must not be a way to guess the password: the password and email forms (and the
    # two-factor ones) count wrong passwords together, per user; a weak new password is no guess.
    app = limited()
    ada, bob = make_user("reader", username="ada"), make_user("reader", username="bob")
    client = app.test_client()
    login(client, ada)
    weak = {"current_password": PASSWORD, "new_password": "short", "confirm": "short"}
    for _ in range(6):
        assert client.post("/settings/password", data=weak).status_code == 422
    for n in range(3):
        wrong = {"current_password": f"guess {n}", "new_password": "a-long new passphrase 1",
                 "confirm": "a-long new passphrase 1"}
        assert client.post("/settings/password", data=wrong).status_code == 422
    for n in range(2):
        guess = {"new_email": "ada.new@example.com", "password": f"guess {n + 3}"}
        assert client.post("/settings/email", data=guess).status_code == 422
    html = assert_too_many(client.post("/settings/email", data={"new_email": "ada.new@example.com",
                                                                  "password": PASSWORD}), minutes=15)
    assert 'value="ada.new@example.com"' in html and PASSWORD not in html  # what was typed stays
    assert_too_many(client.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": "a-long new passphrase 1", "confirm": "a-long new passphrase 1"}))
    other = app.test_client()
    login(other, bob)
    assert other.post("/settings/email", data={"new_email": "bob.new@example.com", "password": PASSWORD}).status_code == 302


def test_comments_are_limited_per_user(limited):
    app = limited(COMMENT_LIMIT_USER="2 per hour", COMMENTS_PER_MINUTE=100)
    post = make_post()
    ada, bob = make_user("reader", username="ada"), make_user("reader", username="bob")
    client = app.test_client()
    login(client, ada)
    for n in range(2):
        assert client.post(f"/p/{post.slug}/comments", data={"body": f"Comment {n}"}).status_code == 302
    html = assert_too_many(client.post(f"/p/{post.slug}/comments", data={"body": "Keep this text"}), minutes=60)
    assert "Keep this text</textarea>" in html
    other = app.test_client()
    login(other, bob)
    assert other.post(f"/p/{post.slug}/comments", data={"body": "Mine"}).status_code == 302


def test_comments_are_limited_per_client_address(limited):
    app = limited(COMMENT_LIMIT_IP="2 per hour", COMMENTS_PER_MINUTE=100)
    post = make_post()
    for n in range(3):
        client = app.test_client()
        login(client, make_user("reader"))
        response = client.post(f"/p/{post.slug}/comments", data={"body": f"Comment {n}"})
        assert response.status_code == (302 if n < 2 else 429)


def test_the_comments_per_minute_rule_still_applies(limited):
    app = limited(COMMENTS_PER_MINUTE=1)
    post = make_post()
    client = app.test_client()
    login(client, make_user("reader"))
    assert client.post(f"/p/{post.slug}/comments", data={"body": "One"}).status_code == 302
    assert client.post(f"/p/{post.slug}/comments", data={"body": "Two"}).status_code == 422


def test_counters_live_in_redis_under_their_own_prefix(app, make_app, redis, redis_url):
    limited = make_app(REDIS_URL=redis_url, RATELIMIT_ENABLED=True)
    with limited.app_context():
        sign_in(limited.test_client(), "ada", password="wrong password")
    keys = sorted(key.decode() for key in redis.scan_iter() if b"LIMITER" in key)
    login_key = hashlib.sha256(b"ada").hexdigest()[:32]  # what was typed is not stored in the clear
    assert keys == ["limiter:LIMITER/ip:127.0.0.1/auth.login/20/1/hour",
                    f"limiter:LIMITER/login:{login_key}/auth.login/5/15/minute"]


def test_limits_are_off_when_disabled(client, app):
    make_user(username="ada")
    for _ in range(7):
        assert sign_in(client, "ada", password="wrong password").status_code == 422
    assert sign_in(client, "ada").status_code == 302


def test_sign_in_works_while_redis_is_down(app, make_app, caplog):
    down = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", RATELIMIT_ENABLED=True)
    with down.app_context():
        make_user(username="ada")
        client = down.test_client()
        with caplog.at_level(logging.WARNING, logger="flask-limiter"):
            assert client.get("/login").status_code == 200
            assert sign_in(client, "ada").status_code == 302
        assert "falling back to in-memory storage" in caplog.text
        client.post("/logout")
        for _ in range(5):  # the limits carry on in memory
            assert sign_in(client, "ada", password="wrong password").status_code == 422
        assert_too_many(sign_in(client, "ada"))
