"""Accounts: creating users and loading them for a session."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from werkzeug.security import generate_password_hash

from blog.exceptions import InvalidInput
from blog.extensions import db
from blog.i18n import _
from blog.models.user import ROLES, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{3,30}$")
RESERVED_USERNAMES = frozenset(
    {"admin", "administrator", "api", "u", "static", "media", "studio", "auth", "login", "logout", "register",
     "settings", "search", "feed", "feeds", "tag", "tags", "archive", "healthz", "readyz", "metrics", "root",
     "system", "support", "help", "about", "null", "none", "undefined", "www", "mail", "postmaster", "webmaster"}
)
PASSWORD_MIN = 10


def normalize_email(email: str) -> str:
    """Validated and normalized (no DNS lookups). Raises InvalidInput on the ``email`` field."""
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput({"email": [_("Enter a valid email address.")]}) from exc


def _check_username(username: str, errors: dict) -> None:
    if not USERNAME_RE.match(username):
        errors["username"] = [_("Use 3 to 30 letters, digits, “_” or “-”.")]
    elif username.lower() in RESERVED_USERNAMES:
        errors["username"] = [_("This username is reserved.")]


def _check_password(password: str, username: str, email: str, errors: dict) -> None:
    if len(password or "") < PASSWORD_MIN:
        errors["password"] = [_("Use at least %(min)d characters.", min=PASSWORD_MIN)]
    elif password.lower() in {username.lower(), email.lower()}:
        errors["password"] = [_("The password must differ from your username and email.")]


def _taken(column, value: str) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).where(sa.func.lower(column) == value.lower())) > 0


def create_user(
    *,
    username: str,
    email: str,
    password: str,
    role: str = "reader",
    display_name: str = "",
    confirmed: bool = False,
) -> User:
    """Create an account. Raises InvalidInput (per field) for a bad or taken username, email or password.

    Commits. ``confirmed=True`` is for operators and seeding: the address counts as confirmed now.
    """
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    _check_username(username, errors)
    try:
        email = normalize_email(email)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if role not in ROLES:
        errors["role"] = [_("Unknown role.")]
    _check_password(password, username, email if "email" not in errors else "", errors)
    if "username" not in errors and _taken(User.username, username):
        errors["username"] = [_("This username is taken.")]
    if "email" not in errors and _taken(User.email, email):
        errors["email"] = [_("An account with this email address exists.")]
    if errors:
        raise InvalidInput(errors)
    user = User(
        username=username,
        email=email,
        password_hash=generate_password_hash(password),
        role=role,
        display_name=(display_name or "").strip()[:80],
        email_confirmed_at=datetime.now(timezone.utc) if confirmed else None,
    )
    db.session.add(user)
    db.session.commit()
    return user


def load_session_user(session_id: str) -> User | None:
    """The active user for a Flask-Login id of the form ``"<id>:<session token>"``, else ``None``."""
    user_id, _sep, token = (session_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_token != token or not user.is_active:
        return None
    return user


def get_by_login(login: str) -> User | None:
    """The user whose username or email is ``login`` (case-insensitive)."""
    login = (login or "").strip().lower()
    return db.session.scalar(
        sa.select(User).where(sa.or_(sa.func.lower(User.username) == login, sa.func.lower(User.email) == login))
    )
