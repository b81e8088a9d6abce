"""Accounts: registration, sign-in, confirmation, password reset, profile and email changes."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
import unicodedata
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import available_timezones

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from blog import sanitize, user_cache
from blog.exceptions import InvalidInput, NotFound
from blog.extensions import db
from blog.i18n import _
from blog.jobs.queue import Enqueued
from blog.models.user import ROLES, User, new_session_token
from blog.services import notifications, tokens

USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{3,30}")
RESERVED_USERNAMES = frozenset(
    {"admin", "administrator", "api", "u", "static", "media", "studio", "auth", "login", "logout", "register",
     "settings", "search", "feed", "feeds", "tag", "tags", "archive", "healthz", "readyz", "metrics", "root",
     "system", "support", "help", "about", "null", "none", "undefined", "www", "mail", "postmaster", "webmaster",
     "security", "abuse", "moderator", "staff", "sitemap", "robots"}
)
PASSWORD_MIN = 10
PASSWORD_MAX = 200
DISPLAY_NAME_MAX = 80
BIO_MAX = 5000
# Compared against when no account matches, so a failed sign-in costs the same either way.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
    return frozenset(
        line.strip().lower() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- validation -------------------------------------------------------------------------------------

def normalize_email(email: str) -> str:
    """Validated and normalized (no DNS lookups). Raises InvalidInput on the ``email`` field."""
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput({"email": [_("Enter a valid email address.")]}) from exc


def username_problem(username: str) -> str | None:
    if any(ord(ch) > 127 for ch in username):
        # Only ASCII is allowed, which also rules out look-alike (confusable) Unicode letters.
        return _("Use only the letters A to Z, digits, “_” and “-”.")
    if not USERNAME_RE.fullmatch(username):
        return _("Use 3 to 30 letters, digits, “_” or “-”.")
    if username.lower() in RESERVED_USERNAMES:
        return _("This username is reserved.")
    return None


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    password = password or ""
    if len(password) < PASSWORD_MIN:
        return _("Use at least %(min)d characters.", min=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return _("Use at most %(max)d characters.", max=PASSWORD_MAX)
    lowered = unicodedata.normalize("NFKC", password).lower()
    if lowered in {username.lower(), email.lower(), email.lower().partition("@")[0]} - {""}:
        return _("The password must differ from your username and email address.")
    if lowered in common_passwords():
        return _("This password is too common. Choose one that is harder to guess.")
    return None


def _taken(column, value: str, *, exclude_id: int | None = None) -> bool:
    stmt = sa.select(sa.func.count()).where(sa.func.lower(column) == value.lower())
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return db.session.scalar(stmt) > 0


def _set_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password)
    user.session_token = new_session_token()  # every other session and remember-me cookie ends


# ---- creating and loading ---------------------------------------------------------------------------

def create_user(
    *,
    username: str,
    email: str,
    password: str,
    role: str = "reader",
    display_name: str = "",
    confirmed: bool = False,
    locale: str | None = None,
) -> User:
    """Create an account. Raises InvalidInput (per field) for a bad or taken username, email or password.

    Commits. ``confirmed=True`` is for operators and seeding: the address counts as confirmed now.
    """
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    problem = username_problem(username)
    if problem:
        errors["username"] = [problem]
    try:
        email = normalize_email(email)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if role not in ROLES:
        errors["role"] = [_("Unknown role.")]
    problem = password_problem(password, username=username, email=email if "email" not in errors else "")
    if problem:
        errors["password"] = [problem]
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
        display_name=(display_name or "").strip()[:DISPLAY_NAME_MAX],
        email_confirmed_at=_now() if confirmed else None,
        locale=locale if locale in current_app.config["LANGUAGES"] else None,
    )
    db.session.add(user)
    db.session.commit()
    return user


@dataclass(frozen=True)
class SignUp:
    user: User
    mail: Enqueued  # ``mail.deferred``: Redis was down, the email goes out when it is back


def register(*, username: str, email: str, password: str, locale: str | None = None,
             email_locale: str | None = None) -> SignUp:
    """Sign a reader up and mail a confirmation link. Commits, then enqueues the email.

    ``locale`` is saved as the user's language (an explicit choice); ``email_locale`` is the language the
    visitor is reading in (Accept-Language included), used for this first email when nothing is saved.

    Raises InvalidInput per field. The new account can sign in at once but cannot comment or
    publish until the address is confirmed.
    """
    user = create_user(username=username, email=email, password=password, role="reader", locale=locale)
    return SignUp(user, notifications.send_confirmation(user, locale=email_locale))


def load_session_user(session_id: str) -> User | None:
    """The active user for a Flask-Login id of the form ``"<id>:<session token>"``, else ``None``."""
    user_id, _sep, token = (session_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = user_cache.get(int(user_id))
    if user is None or not secrets.compare_digest(user.session_token, token) or not user.is_active:
        return None
    return user


def get_by_login(login: str) -> User | None:
    """The user whose username or email is ``login`` (case-insensitive)."""
    login = (login or "").strip().lower()
    return db.session.scalar(
        sa.select(User).where(sa.or_(sa.func.lower(User.username) == login, sa.func.lower(User.email) == login))
    )


def get_user(user_id: int) -> User:
    """Raises NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no such user."))
    return user


# ---- signing in -------------------------------------------------------------------------------------

def authenticate(*, login: str, password: str) -> User:
    """The user with this username or email and password.

    Raises InvalidInput with one message for an unknown login or a wrong password (the two are
    indistinguishable, in wording and in time), and another for a suspended account.
    """
    user = get_by_login(login)
    valid = check_password_hash(user.password_hash if user and user.password_hash else _DUMMY_HASH, password or "")
    if user is None or not valid:
        raise InvalidInput({"_": [_("That username or email and password do not match.")]})
    if not user.is_active:
        raise InvalidInput({"_": [_("This account is suspended. Contact the site's administrators.")]})
    return user


# ---- confirmation -----------------------------------------------------------------------------------

def _token_error(exc: tokens.TokenInvalid) -> InvalidInput:
    if isinstance(exc, tokens.TokenExpired):
        return InvalidInput({"_": [_("This link has expired. Ask for a new one.")]})
    return InvalidInput({"_": [_("This link is not valid or has already been used.")]})


def _user_from_token(purpose: str, token: str, *, bound_to, now: float | None) -> tuple[User, dict]:
    """The user a token names, while the token is valid and still bound to ``bound_to(user)``.

    Raises InvalidInput (expired, tampered, other purpose, or already used).
    """
    try:
        payload = tokens.read(purpose, token, now=now)
    except tokens.TokenInvalid as exc:
        raise _token_error(exc) from exc
    user = db.session.get(User, payload.get("uid"))
    if user is None or payload.get("fp") != tokens.fingerprint(bound_to(user)):
        raise _token_error(tokens.TokenInvalid())
    return user, payload


def confirm_email(*, token: str, now: float | None = None) -> User:
    """Mark the address in ``token`` as confirmed. Commits. Raises InvalidInput for a bad token."""
    user, _payload = _user_from_token(tokens.CONFIRM_EMAIL, token, bound_to=lambda u: u.email, now=now)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = _now()
        db.session.commit()
    return user


def resend_confirmation(*, actor: User) -> Enqueued | None:
    """Mail a new confirmation link unless the address is confirmed already (then ``None``)."""
    if actor.is_confirmed:
        return None
    return notifications.send_confirmation(actor)


# ---- passwords --------------------------------------------------------------------------------------

def request_password_reset(*, email: str) -> None:
    """Mail a reset link when an active account has this address. Says nothing either way."""
    try:
        email = normalize_email(email)
    except InvalidInput:
        return
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))
    if user is not None and user.is_active:
        notifications.send_password_reset(user)


def reset_password(*, token: str, password: str, now: float | None = None) -> User:
    """Set a new password from an emailed token. The token then stops working (it is bound to the old
    hash) and every session ends. Commits. Raises InvalidInput for a bad token or password.
    """
    user, _payload = _user_from_token(tokens.RESET_PASSWORD, token, bound_to=lambda u: u.password_hash, now=now)
    if not user.is_active:
        raise _token_error(tokens.TokenInvalid())
    problem = password_problem(password, username=user.username, email=user.email)
    if problem:
        raise InvalidInput({"password": [problem]})
    _set_password(user, password)
    db.session.commit()
    return user


def change_password(*, actor: User, current_password: str, new_password: str) -> User:
    """Change ``actor``'s password after checking the current one; other sessions end. Commits."""
    if not check_password_hash(actor.password_hash or _DUMMY_HASH, current_password or ""):
        raise InvalidInput({"current_password": [_("Your current password is not correct.")]})
    problem = password_problem(new_password, username=actor.username, email=actor.email)
    if problem:
        raise InvalidInput({"new_password": [problem]})
    _set_password(actor, new_password)
    db.session.commit()
    return actor


def sign_out_everywhere(*, actor: User) -> User:
    """End every session and remember-me cookie of ``actor``. Commits."""
    actor.session_token = new_session_token()
    db.session.commit()
    return actor


# ---- email changes ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmailChange:
    new_email: str
    mail: Enqueued


def request_email_change(*, actor: User, new_email: str, password: str) -> EmailChange:
    """Mail ``new_email`` a link that switches the account to it; nothing changes until it is followed.

    Raises InvalidInput for a wrong password or an invalid, unchanged or taken address.
    """
    if not check_password_hash(actor.password_hash or _DUMMY_HASH, password or ""):
        raise InvalidInput({"password": [_("Your password is not correct.")]})
    try:
        new_email = normalize_email(new_email)
    except InvalidInput as exc:
        raise InvalidInput({"new_email": exc.errors["email"]}) from exc
    if new_email.lower() == actor.email.lower():
        raise InvalidInput({"new_email": [_("This is already your email address.")]})
    if _taken(User.email, new_email, exclude_id=actor.id):
        raise InvalidInput({"new_email": [_("An account with this email address exists.")]})
    return EmailChange(new_email, notifications.send_email_change(actor, new_email))


def confirm_email_change(*, token: str, now: float | None = None) -> User:
    """Switch the account to the address in ``token`` and tell the old address. Commits, then enqueues."""
    user, payload = _user_from_token(tokens.CHANGE_EMAIL, token, bound_to=lambda u: u.email, now=now)
    new_email = payload["new"]
    if _taken(User.email, new_email, exclude_id=user.id):
        raise InvalidInput({"_": [_("An account with this email address exists.")]})
    old_email = user.email
    user.email = new_email
    user.email_confirmed_at = _now()
    db.session.commit()
    notifications.send_email_changed_notice(user, old_email)
    return user


# ---- profile ----------------------------------------------------------------------------------------

def render_bio(user: User) -> None:
    """Render ``user.bio`` into ``bio_html`` under the current sanitizer policy (not committed)."""
    rendered = sanitize.render_markdown(user.bio or "", internal_hosts=current_app.config["INTERNAL_HOSTS"])
    user.bio_html = rendered.html
    user.bio_sanitizer_version = rendered.version


def update_profile(*, actor: User, display_name: str, bio: str, locale: str | None, timezone_name: str | None
                   ) -> User:
    """Update ``actor``'s own profile; the bio is Markdown, sanitized like posts. Commits.

    Raises InvalidInput for an unknown locale or time zone, or text that is too long.
    """
    errors: dict[str, list[str]] = {}
    display_name = " ".join(sanitize.clean_text(display_name).split())
    bio = sanitize.clean_text(bio)
    if len(display_name) > DISPLAY_NAME_MAX:
        errors["display_name"] = [_("Use at most %(max)d characters.", max=DISPLAY_NAME_MAX)]
    if len(bio or "") > BIO_MAX:
        errors["bio"] = [_("Use at most %(max)d characters.", max=BIO_MAX)]
    if locale and locale not in current_app.config["LANGUAGES"]:
        errors["locale"] = [_("Choose one of the offered languages.")]
    if timezone_name and timezone_name not in timezones():
        errors["timezone"] = [_("Choose a time zone from the list.")]
    if errors:
        raise InvalidInput(errors)
    actor.display_name = display_name
    actor.bio = bio or ""
    render_bio(actor)
    actor.locale = locale or None
    actor.timezone = timezone_name or None
    db.session.commit()
    return actor
