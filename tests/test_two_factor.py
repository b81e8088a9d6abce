"""Two-factor authentication: setting it up, signing in with a code or a recovery code, turning it off, and
the administrators' requirement. Codes come from pyotp, as an authenticator app would make them."""
import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from blog.extensions import db
from blog.models.audit import AuditEvent
from blog.models.user import RecoveryCode
from blog.services import two_factor
from blog.exceptions import InvalidInput
from tests.conftest import link_in
from tests.factories import PASSWORD, login, make_user

CODE = re.compile(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>")


def code_at(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def wrong_code(secret):
    valid = {code_at(secret, n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def start_setup(client):
    assert client.post("/settings/two-factor/setup").status_code == 302
    html = client.get("/settings/two-factor").get_data(as_text=True)
    return re.search(r"<code>([A-Z2-7 ]{20,})</code>", html).group(1).replace(" ", ""), html


def enable(client, user):
    """Turn two-factor authentication on for ``user`` (signed in on ``client``); the secret and the codes."""
    secret, _html = start_setup(client)
    response = client.post("/settings/two-factor/enable", data={"enable-code": code_at(secret)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return secret, CODE.findall(response.get_data(as_text=True))


def sign_in(client, login_name, password=PASSWORD, **extra):
    return client.post("/login", data={"login": login_name, "password": password, **extra})


def events(action):
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


@pytest.fixture
def ada_with_2fa(app):
    """ada, with two-factor authentication on (set up through the settings page); (user, secret, codes)."""
    ada = make_user(username="ada", email="ada@example.com")
    setup_client = app.test_client()
    login(setup_client, ada)
    secret, codes = enable(setup_client, ada)
    return ada, secret, codes


def test_setting_up_shows_a_qr_code_and_key_then_ten_recovery_codes(client, app):
    ada = make_user(username="ada")
    login(client, ada)
    page = client.get("/settings/two-factor")
    assert page.status_code == 200 and "Set up two-factor authentication" in page.get_data(as_text=True)
    assert 'href="/settings/two-factor" aria-current="page"' in page.get_data(as_text=True)  # in the settings nav
    secret, html = start_setup(client)
    assert '<svg width=' in html and 'class="qr-code"' in html and 'role="img"' in html
    assert 'autocomplete="one-time-code"' in html
    db.session.refresh(ada)
    assert ada.totp_secret and secret not in ada.totp_secret  # stored encrypted
    assert not ada.has_two_factor

    refused = client.post("/settings/two-factor/enable", data={"enable-code": wrong_code(secret)})
    assert refused.status_code == 422 and "That code does not match" in refused.get_data(as_text=True)
    db.session.refresh(ada)
    assert not ada.has_two_factor

    response = client.post("/settings/two-factor/enable", data={"enable-code": code_at(secret)})
    codes = CODE.findall(response.get_data(as_text=True))
    assert response.status_code == 200 and len(set(codes)) == 10
    assert response.headers["Cache-Control"] == "no-store"
    db.session.refresh(ada)
    assert ada.has_two_factor
    stored = db.session.scalars(sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == ada.id)).all()
    assert len(stored) == 10 and not set(codes) & set(stored)  # only hashes are kept
    assert [e.actor_id for e in events("two_factor.enabled")] == [ada.id]
    assert "10 unused recovery codes" in client.get("/settings/two-factor").get_data(as_text=True)


def test_cancelling_a_setup_forgets_the_secret(client):
    ada = make_user(username="ada")
    login(client, ada)
    start_setup(client)
    assert client.post("/settings/two-factor/cancel").status_code == 302
    db.session.refresh(ada)
    assert ada.totp_secret is None and not ada.has_two_factor


def test_sign_in_asks_for_the_code_and_keeps_remember_me_and_next(client, ada_with_2fa):
    _ada, secret, _codes = ada_with_2fa
    response = sign_in(client, "ada", remember="y", next="/settings/profile")
    assert response.status_code == 302 and response.headers["Location"] == "/login/two-factor"
    assert client.get("/settings/profile").status_code == 302  # not signed in yet
    page = client.get("/login/two-factor").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and "recovery codes" in page

    refused = client.post("/login/two-factor", data={"code": wrong_code(secret)})
    assert refused.status_code == 422 and "That code is not valid" in refused.get_data(as_text=True)

    done = client.post("/login/two-factor", data={"code": code_at(secret, 1)})
    assert done.status_code == 302 and done.headers["Location"] == "/settings/profile"
    assert client.get_cookie("remember_token") is not None
    assert client.get("/settings/profile").status_code == 200


def test_a_code_works_only_once(client, ada_with_2fa):
    _ada, secret, _codes = ada_with_2fa
    code = code_at(secret, 1)  # setting up used the current step
    sign_in(client, "ada")
    assert client.post("/login/two-factor", data={"code": code}).status_code == 302
    client.post("/logout")
    sign_in(client, "ada")
    replayed = client.post("/login/two-factor", data={"code": code})
    assert replayed.status_code == 422
    assert "This code has been used already" in replayed.get_data(as_text=True)


def test_a_recovery_code_works_once(client, ada_with_2fa):
    ada, _secret, codes = ada_with_2fa
    sign_in(client, "ada")
    assert client.post("/login/two-factor", data={"code": codes[3].upper().replace("-", " ")}).status_code == 302
    assert [e.after for e in events("two_factor.recovery_code_used")] == [{"recovery_codes_left": 9}]
    client.post("/logout")
    sign_in(client, "ada")
    assert client.post("/login/two-factor", data={"code": codes[3]}).status_code == 422
    assert client.post("/login/two-factor", data={"code": codes[4]}).status_code == 302


def test_the_second_step_expires(client, ada_with_2fa):
    _ada, secret, _codes = ada_with_2fa
    sign_in(client, "ada")
    with client.session_transaction() as session:
        session["two_factor"] = {**session["two_factor"], "at": time.time() - two_factor.PENDING_SECONDS - 1}
    response = client.post("/login/two-factor", data={"code": code_at(secret, 1)}, follow_redirects=True)
    assert "Your sign-in has expired" in response.get_data(as_text=True)
    assert client.get("/settings/profile").status_code == 302
    assert client.get("/login/two-factor").headers["Location"] == "/login"  # nothing pending any more


def test_a_password_change_ends_a_waiting_second_step(client, ada_with_2fa, app):
    ada, secret, _codes = ada_with_2fa
    sign_in(client, "ada")
    other = app.test_client()
    login(other, ada)
    other.post("/settings/password", data={"current_password": PASSWORD, "new_password": "another long passphrase 7",
                                           "confirm": "another long passphrase 7"})
    response = client.post("/login/two-factor", data={"code": code_at(secret, 1)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_a_password_reset_link_still_asks_for_the_code(client, ada_with_2fa, outbox):
    _ada, secret, _codes = ada_with_2fa
    client.post("/reset", data={"email": "ada@example.com"})
    path = link_in(outbox.last(), "/reset/")
    response = client.post(path, data={"password": "a brand new passphrase 9", "confirm": "a brand new passphrase 9"})
    assert response.status_code == 302 and response.headers["Location"] == "/login/two-factor"
    assert client.get("/settings/profile").status_code == 302
    assert client.post("/login/two-factor", data={"code": code_at(secret, 1)}).status_code == 302
    assert client.get("/settings/profile").status_code == 200


def test_turning_off_needs_the_password_or_a_code(client, ada_with_2fa):
    ada, _secret, codes = ada_with_2fa
    login(client, ada)
    refused = client.post("/settings/two-factor/disable", data={"disable-password": "wrong password"})
    assert refused.status_code == 422 and "Your password is not correct." in refused.get_data(as_text=True)
    empty = client.post("/settings/two-factor/disable", data={})
    assert empty.status_code == 422 and "Enter your password or a code." in empty.get_data(as_text=True)
    assert client.post("/settings/two-factor/disable", data={"disable-code": "aaaa-bbbb-cccc-dddd"}).status_code == 422
    db.session.refresh(ada)
    assert ada.has_two_factor

    assert client.post("/settings/two-factor/disable", data={"disable-code": codes[0]}).status_code == 302
    db.session.refresh(ada)
    assert not ada.has_two_factor and ada.totp_secret is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    assert [e.actor_id for e in events("two_factor.disabled")] == [ada.id]
    assert sign_in(client, "ada").headers["Location"] == "/"  # the password alone is enough again


def test_new_recovery_codes_replace_the_old_ones(client, ada_with_2fa):
    ada, _secret, old_codes = ada_with_2fa
    login(client, ada)
    assert client.post("/settings/two-factor/recovery-codes", data={"codes-password": "nope"}).status_code == 422
    response = client.post("/settings/two-factor/recovery-codes", data={"codes-password": PASSWORD})
    new_codes = CODE.findall(response.get_data(as_text=True))
    assert response.status_code == 200 and len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert response.headers["Cache-Control"] == "no-store"
    assert len(events("two_factor.recovery_codes_replaced")) == 1
    client.post("/logout")
    sign_in(client, "ada")
    assert client.post("/login/two-factor", data={"code": old_codes[0]}).status_code == 422
    assert client.post("/login/two-factor", data={"code": new_codes[0]}).status_code == 302


def test_admins_must_set_it_up_when_required(app, make_app):
    strict = make_app(REQUIRE_ADMIN_2FA=True)
    with strict.app_context():
        make_user("admin", username="boss")
        client = strict.test_client()
        response = sign_in(client, "boss", next="/admin/")
        assert response.headers["Location"] == "/settings/two-factor"
        blocked = client.get("/admin/users")
        assert blocked.status_code == 302 and blocked.headers["Location"] == "/settings/two-factor"
        page = client.get("/settings/two-factor").get_data(as_text=True)
        assert "Administrators must use two-factor authentication" in page

        secret, _html = start_setup(client)
        assert client.post("/settings/two-factor/enable", data={"enable-code": code_at(secret)}).status_code == 200
        assert client.get("/admin/users").status_code == 200
        assert "Administrators must keep two-factor authentication on." in client.get(
            "/settings/two-factor").get_data(as_text=True)
        refused = client.post("/settings/two-factor/disable", data={"disable-password": PASSWORD})
        assert refused.status_code == 422

        reader = make_user("reader", username="reader1")  # the rule is for administrators only
        other = strict.test_client()
        assert sign_in(other, "reader1").headers["Location"] == "/"
        assert reader.has_two_factor is False


def test_admins_are_not_forced_by_default(client):
    make_user("admin", username="boss")
    assert sign_in(client, "boss", next="/admin/").headers["Location"] == "/admin/"
    assert client.get("/admin/users").status_code == 200


def test_the_second_step_is_rate_limited_like_sign_in(app, make_app, ada_with_2fa):
    _ada, secret, _codes = ada_with_2fa
    limited = make_app(RATELIMIT_ENABLED=True)
    with limited.app_context():
        client = limited.test_client()
        sign_in(client, "ada")
        for _ in range(5):
            assert client.post("/login/two-factor", data={"code": wrong_code(secret)}).status_code == 422
        response = client.post("/login/two-factor", data={"code": code_at(secret, 1)})
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
        assert "Too many attempts. Try again in 15 minutes." in response.get_data(as_text=True)
        # Starting over with the password does not reset the count: it is kept per account.
        sign_in(client, "ada")
        assert client.post("/login/two-factor", data={"code": code_at(secret, 1)}).status_code == 429


def test_guessing_on_the_settings_forms_is_rate_limited(app, make_app, ada_with_2fa):
    ada, _secret, codes = ada_with_2fa
    limited = make_app(RATELIMIT_ENABLED=True)
    with limited.app_context():
        client = limited.test_client()
        login(client, ada)
        for n in range(5):  # wrong guesses on either form count together
            form, data = (("disable", {"disable-code": "123456"}) if n % 2 else
                          ("recovery-codes", {"codes-password": "wrong password"}))
            assert client.post(f"/settings/two-factor/{form}", data=data).status_code == 422
        response = client.post("/settings/two-factor/disable", data={"disable-code": codes[0]})
        assert response.status_code == 429 and "Retry-After" in response.headers
        assert "Too many attempts" in response.get_data(as_text=True)
        assert db.session.get(type(ada), ada.id).has_two_factor


def test_codes_one_step_early_or_late_are_accepted_and_each_step_once(app):
    ada = make_user(username="ada")
    two_factor.begin_setup(actor=ada)
    secret = two_factor.pending_setup(actor=ada).secret.replace(" ", "")
    totp = pyotp.TOTP(secret)
    now = 1_900_000_000.0
    two_factor.enable(actor=ada, code=totp.at(now), now=now)
    kwargs = dict(user_id=ada.id, session_token=ada.session_token, started_at=now)
    with pytest.raises(InvalidInput):  # two steps late
        two_factor.verify_sign_in(code=totp.at(now + 60), now=now, **kwargs)
    assert two_factor.verify_sign_in(code=totp.at(now + 30), now=now, **kwargs) == ada
    with pytest.raises(InvalidInput, match="used already"):  # an earlier step after a later one
        two_factor.verify_sign_in(code=totp.at(now), now=now + 1, **kwargs)
    assert two_factor.verify_sign_in(code=totp.at(now + 60), now=now + 31, **kwargs) == ada
    with pytest.raises(two_factor.SignInExpired):
        two_factor.verify_sign_in(code=totp.at(now + 400), now=now + 400, **kwargs)


def test_the_operator_can_turn_it_off_for_a_locked_out_user(app, ada_with_2fa):
    ada, _secret, _codes = ada_with_2fa
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-2fa", "ada"])
    assert result.exit_code == 0, result.output
    assert "Turned off two-factor authentication for ada" in result.output
    db.session.refresh(ada)
    assert not ada.has_two_factor
    assert len(events("two_factor.reset")) == 1
    assert "nothing changed" in runner.invoke(args=["users", "reset-2fa", "ada"]).output


def test_the_migration_adds_the_columns_and_table(app):
    inspector = sa.inspect(db.engine)
    columns = {c["name"] for c in inspector.get_columns("users")}
    assert {"totp_secret", "totp_enabled_at", "totp_last_step"} <= columns
    assert {c["name"] for c in inspector.get_columns("recovery_codes")} == {
        "id", "user_id", "code_hash", "used_at", "created_at"}
    [fk] = inspector.get_foreign_keys("recovery_codes")
    assert fk["referred_table"] == "users" and fk["options"].get("ondelete") == "CASCADE"
