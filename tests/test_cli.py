import sqlalchemy as sa
from werkzeug.security import check_password_hash

from blog.extensions import db
from blog.models.comment import Comment
from blog.models.post import Post
from blog.models.user import User
from blog.services.accounts import get_by_login


def test_users_create_with_password(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "--username", "boss", "--email", "Boss@Example.com",
                                                "--role", "admin", "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    assert "Created admin boss <Boss@example.com>" in result.output
    user = get_by_login("boss")
    assert user.role == "admin" and user.is_confirmed
    assert check_password_hash(user.password_hash, "a long enough password")


def test_users_create_prompts_for_the_password(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "--username", "quiet", "--email", "q@example.com"],
                                          input="a long enough password\na long enough password\n")
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output  # hidden input
    assert check_password_hash(get_by_login("quiet").password_hash, "a long enough password")


def test_users_create_reports_bad_input_in_one_line_with_exit_code_1(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "--username", "taken", "--email", "t@example.com", "--password", "x" * 12])
    result = runner.invoke(args=["users", "create", "--username", "TAKEN", "--email", "T@example.com",
                                 "--password", "short"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "username: This username is taken." in lines[0]
    assert "email: An account with this email address exists." in lines[0]
    assert "password: Use at least 10 characters." in lines[0]
    bad_role = runner.invoke(args=["users", "create", "--username", "x1x", "--email", "x@example.com",
                                   "--role", "king", "--password", "x" * 12])
    assert bad_role.exit_code == 2 and "Invalid value for '--role'" in bad_role.output


def test_seed_demo_is_idempotent_and_prints_an_admin_login(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed", "demo", "--posts", "12"])
    assert first.exit_code == 0, first.output
    assert "Created 12 post(s)" in first.output
    assert "Admin login: demo-admin / " in first.output
    counts = (db.session.scalar(sa.select(sa.func.count(Post.id))), db.session.scalar(sa.select(sa.func.count(User.id))),
              db.session.scalar(sa.select(sa.func.count(Comment.id))))
    again = runner.invoke(args=["seed", "demo", "--posts", "12"])
    assert again.exit_code == 0 and "Created 0 post(s); 12 already existed." in again.output
    assert counts == (db.session.scalar(sa.select(sa.func.count(Post.id))),
                      db.session.scalar(sa.select(sa.func.count(User.id))),
                      db.session.scalar(sa.select(sa.func.count(Comment.id))))
    assert counts[0] == 12 and counts[2] > 0
    tagged = db.session.scalars(sa.select(Post)).all()
    assert all(p.tags for p in tagged) and all(p.status == "published" for p in tagged)


def test_seed_demo_shows_a_progress_bar_for_large_runs(app):
    result = app.test_cli_runner().invoke(args=["seed", "demo", "--posts", "60", "--admin-password", "x" * 16])
    assert result.exit_code == 0, result.output
    assert "Seeding posts" in result.output
    assert "Admin login: demo-admin / " + "x" * 16 in result.output
