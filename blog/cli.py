"""Operator commands (``flask --app wsgi ...``). Each command calls a service and prints one clear line."""
from __future__ import annotations

import secrets
import sys

import click
from flask import Flask

from blog.exceptions import InvalidInput
from blog.models.user import ROLES
from blog.services import accounts, seed

users = click.Group("users", help="Manage user accounts.")
seed_group = click.Group("seed", help="Load demo content.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _invalid(exc: InvalidInput) -> None:
    _fail("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items()))


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
    app.cli.add_command(users)
    app.cli.add_command(seed_group)
