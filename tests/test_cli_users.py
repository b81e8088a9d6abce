"""``flask users ...``: the operator's admin commands, acting through services/admin.py."""
import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from blog.extensions import db
from blog.models.audit import AuditEvent
from blog.models.user import User
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "a brand new passphrase 7"


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def _run(*args, input=None):
        result = runner.invoke(args=["users", *args], input=input)
        db.session.expire_all()  # the command committed in the same session; read what it wrote
        return result

    return _run


def lines(result):
    return [line for line in result.output.splitlines() if line.strip()]


def one_error_line(result, text):
    assert result.exit_code == 1, result.output
    (line,) = lines(result)
    assert line.startswith("Error: ") and text in line, line


def audit_actions():
    return [(e.action, e.actor_id) for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


# ---- list -------------------------------------------------------------------------------------------

def test_list_prints_a_table_ordered_by_username(app, run):
    make_user("admin", username="zoe", email="zoe@example.com")
    make_user("reader", username="Al", email="al@example.com", email_confirmed_at=None, status="suspended")
    result = run("list")
    assert result.exit_code == 0, result.output
    header, first, second = lines(result)
    assert header.split() == ["ID", "USERNAME", "EMAIL", "ROLE", "STATUS", "CONFIRMED"]
    assert first.split()[1:] == ["Al", "al@example.com", "reader", "suspended", "no"]
    assert second.split()[1:] == ["zoe", "zoe@example.com", "admin", "active", "yes"]
    # Columns line up: every row's email starts where the header's does.
    assert len({line.index(col) for line, col in zip((header, first, second), ("EMAIL", "al@", "zoe@"))}) == 1


def test_list_filters_by_role_and_status_and_pages_through_everyone(app, run):
    for n in range(105):
        make_user("reader", username=f"r{n:03d}")
    make_user("editor", username="ed", status="suspended")
    everyone = run("list")
    assert everyone.exit_code == 0 and len(lines(everyone)) == 1 + 106
    editors = run("list", "--role", "editor")
    assert [line.split()[1] for line in lines(editors)[1:]] == ["ed"]
    assert [line.split()[1] for line in lines(run("list", "--status", "suspended"))[1:]] == ["ed"]
    assert lines(run("list", "--role", "admin")) == ["No users."]
    bad = run("list", "--role", "king")
    assert bad.exit_code == 2 and "Invalid value for '--role'" in bad.output
    assert run("list", "--status", "gone").exit_code == 2


# ---- set-role ---------------------------------------------------------------------------------------

def test_set_role_changes_the_role_as_the_operator(app, run):
    user = make_user("reader", username="ada")
    result = run("set-role", "ADA", "editor")
    assert result.exit_code == 0, result.output
    assert lines(result) == ["Changed ada's role from reader to editor."]
    assert db.session.get(User, user.id).role == "editor"
    assert audit_actions() == [("user.role_changed", None)]
    again = run("set-role", "ada", "editor")
    assert again.exit_code == 0 and lines(again) == ["ada is already editor; nothing changed."]
    assert len(audit_actions()) == 1


def test_set_role_errors(app, run):
    make_user("admin", username="last")
    one_error_line(run("set-role", "ghost", "editor"), "no user named ghost")
    bad = run("set-role", "last", "king")
    assert bad.exit_code == 2 and "Invalid value for 'ROLE'" in bad.output
    one_error_line(run("set-role", "last", "reader"), "role: last is the last active administrator")
    assert audit_actions() == []


# ---- suspend / reinstate ----------------------------------------------------------------------------

def test_suspend_and_reinstate(app, run):
    user = make_user("author", username="bea")
    token = user.session_token
    result = run("suspend", "bea")
    assert result.exit_code == 0 and lines(result) == ["Suspended bea; their sessions have ended."]
    user = db.session.get(User, user.id)
    assert user.status == "suspended" and user.session_token != token
    assert lines(run("suspend", "bea")) == ["bea is already suspended; nothing changed."]
    result = run("reinstate", "bea")
    assert result.exit_code == 0 and lines(result) == ["Reinstated bea."]
    assert db.session.get(User, user.id).status == "active"
    assert lines(run("reinstate", "bea")) == ["bea is already active; nothing changed."]
    assert audit_actions() == [("user.suspended", None), ("user.reinstated", None)]


def test_suspend_and_reinstate_errors(app, run):
    make_user("admin", username="only")
    one_error_line(run("suspend", "only"), "only is the last active administrator and cannot be suspended.")
    assert "_:" not in run("suspend", "only").output  # whole-request messages carry no field name
    one_error_line(run("suspend", "nobody"), "no user named nobody")
    one_error_line(run("reinstate", "nobody"), "no user named nobody")


# ---- reset-password ---------------------------------------------------------------------------------

def test_reset_password_with_option(app, run):
    user = make_user("reader", username="cy")
    token = user.session_token
    result = run("reset-password", "cy", "--password", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert lines(result) == ["Set a new password for cy; their sessions have ended."]
    user = db.session.get(User, user.id)
    assert check_password_hash(user.password_hash, NEW_PASSWORD) and user.session_token != token
    assert audit_actions() == [("user.password_reset", None)]


def test_reset_password_prompts_hidden_with_confirmation(app, run):
    user = make_user("reader", username="dee")
    result = run("reset-password", "dee", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert "Repeat for confirmation" in result.output
    assert check_password_hash(db.session.get(User, user.id).password_hash, NEW_PASSWORD)


def test_reset_password_errors(app, run):
    user = make_user("reader", username="eve")
    one_error_line(run("reset-password", "eve", "--password", "short"), "password: Use at least 10 characters.")
    one_error_line(run("reset-password", "ghost", "--password", NEW_PASSWORD), "no user named ghost")
    assert check_password_hash(db.session.get(User, user.id).password_hash, PASSWORD)
    assert audit_actions() == []
