"""Operator commands (``flask --app wsgi ...``). Each command calls a service and prints one clear line."""
from __future__ import annotations

import secrets
import sys

import click
from flask import Flask

from blog.exceptions import InvalidInput, ServiceError
from blog.models.user import ROLES, USER_STATUSES
from blog.permissions import OPERATOR
from blog.services import accounts, admin, seed, two_factor

users = click.Group("users", help="Manage user accounts.")
seed_group = click.Group("seed", help="Load demo content.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _invalid(exc: InvalidInput) -> None:
    # "_" holds messages about the whole request rather than one field: print them bare.
    _fail("; ".join(" ".join(msgs) if field == "_" else f"{field}: {' '.join(msgs)}"
                    for field, msgs in exc.errors.items()))


def _user_named(username: str):
    user = accounts.get_by_login(username)
    if user is None:
        _fail(f"no user named {username}")
    return user


def _run(service, **kwargs):
    """Call an admin service as the operator; its refusals become one "Error: ..." line and exit code 1."""
    try:
        return service(actor=OPERATOR, **kwargs)
    except InvalidInput as exc:
        _invalid(exc)
    except ServiceError as exc:
        _fail(exc.message)


@users.command("create")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), default="reader", show_default=True)
@click.option("--display-name", default="")
@click.option("--password", help="Prompted for (hidden, with confirmation) when absent.")
def create_user(username, email, role, display_name, password):
    """Create a confirmed account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(
            username=username, email=email, password=password, role=role, display_name=display_name, confirmed=True
        )
    except InvalidInput as exc:
        _invalid(exc)
    click.echo(f"Created {user.role} {user.username} <{user.email}> (id {user.id}).")


@users.command("list")
@click.option("--role", type=click.Choice(ROLES), help="Only users with this role.")
@click.option("--status", type=click.Choice(USER_STATUSES), help="Only users with this status.")
def list_users(role, status):
    """List accounts, ordered by username."""
    rows = []
    page = 1
    while True:
        pagination = _run(admin.list_users, role=role, status=status, page=page, per_page=100)
        rows += [(str(u.id), u.username, u.email, u.role, u.status, "yes" if u.is_confirmed else "no")
                 for u in pagination.items]
        if not pagination.has_next:
            break
        page += 1
    if not rows:
        click.echo("No users.")
        return
    header = ("ID", "USERNAME", "EMAIL", "ROLE", "STATUS", "CONFIRMED")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell.rjust(width) if i == 0 else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths))]
        click.echo("  ".join(cells).rstrip())


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES), metavar="ROLE")
def set_role(username, role):
    """Give USERNAME another ROLE: reader, author, editor or admin."""
    user = _user_named(username)
    old = user.role
    user = _run(admin.change_role, user_id=user.id, role=role)
    if old == role:
        click.echo(f"{user.username} is already {role}; nothing changed.")
    else:
        click.echo(f"Changed {user.username}'s role from {old} to {role}.")


@users.command("suspend")
@click.argument("username")
def suspend_user(username):
    """Suspend USERNAME: they cannot sign in, and their sessions end now."""
    user = _user_named(username)
    old = user.status
    user = _run(admin.suspend, user_id=user.id)
    if old == "suspended":
        click.echo(f"{user.username} is already suspended; nothing changed.")
    else:
        click.echo(f"Suspended {user.username}; their sessions have ended.")


@users.command("reinstate")
@click.argument("username")
def reinstate_user(username):
    """Let suspended USERNAME sign in again."""
    user = _user_named(username)
    old = user.status
    user = _run(admin.reinstate, user_id=user.id)
    if old == "active":
        click.echo(f"{user.username} is already active; nothing changed.")
    else:
        click.echo(f"Reinstated {user.username}.")


@users.command("reset-password")
@click.argument("username")
@click.option("--password", help="Prompted for (hidden, with confirmation) when absent.")
def reset_password(username, password):
    """Set a new password for USERNAME; their sessions end."""
    user = _user_named(username)
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    user = _run(admin.set_password, user_id=user.id, password=password)
    click.echo(f"Set a new password for {user.username}; their sessions have ended.")


@users.command("reset-2fa")
@click.argument("username")
def reset_two_factor(username):
    """Turn off two-factor authentication for USERNAME (lost device and recovery codes)."""
    user = _user_named(username)
    was_on = user.has_two_factor
    user = _run(two_factor.reset, user_id=user.id)
    if was_on:
        click.echo(f"Turned off two-factor authentication for {user.username}; they can set it up again.")
    else:
        click.echo(f"{user.username} does not use two-factor authentication; nothing changed.")


@seed_group.command("demo")
@click.option("--posts", "posts_count", type=click.IntRange(0, 100_000), default=24, show_default=True)
@click.option("--admin-password", help="Password for the demo admin if it is created (random when absent).")
def seed_demo(posts_count, admin_password):
    """Create demo authors, tagged posts and comments. Safe to run again."""
    password = admin_password or secrets.token_urlsafe(12)
    if posts_count >= 50:
        with click.progressbar(length=posts_count, label="Seeding posts", show_pos=True, file=sys.stderr) as bar:
            result = seed.seed_demo(posts_count=posts_count, admin_password=password, progress=bar.update)
    else:
        result = seed.seed_demo(posts_count=posts_count, admin_password=password)
    click.echo(f"Created {result['posts_created']} post(s); {posts_count - result['posts_created']} already existed.")
    if result["admin_created"]:
        click.echo(f"Admin login: {result['admin_username']} / {password}")
    else:
        click.echo(f"Admin {result['admin_username']} already exists (password unchanged).")


def init_app(app: Flask) -> None:
    from blog.cli.backup import export_command, import_command
    from blog.cli.check import check
    from blog.cli.jobs import jobs
    from blog.cli.media import media
    from blog.cli.posts import posts
    from blog.cli.translate import translate

    app.cli.add_command(users)
    app.cli.add_command(seed_group)
    app.cli.add_command(jobs)
    app.cli.add_command(check)
    app.cli.add_command(export_command)
    app.cli.add_command(import_command)
    app.cli.add_command(media)
    app.cli.add_command(posts)
    app.cli.add_command(translate)
