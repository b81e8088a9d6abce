"""Two-factor authentication with time-based one-time passwords (TOTP, RFC 6238) and recovery codes.

Setting up is two steps: :func:`begin_setup` stores a new secret (encrypted with a key derived from
SECRET_KEY), the user adds it to an authenticator app, and :func:`enable` turns it on once the app's
current code checks out. A code is accepted one time step early or late (clock drift) and only once: the
last accepted time step is stored, so a code seen over a shoulder cannot be replayed. Ten recovery codes
stand in for the app; only their SHA-256 is kept (they are random and long, so a slow hash adds nothing),
and each works once.

Rotating SECRET_KEY makes stored TOTP secrets unreadable: their owners then sign in with a recovery code
(or an operator runs ``flask users reset-2fa``) and set two-factor authentication up again.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pyotp
import segno
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from werkzeug.security import check_password_hash

from blog import permissions
from blog.exceptions import InvalidInput, NotFound, PermissionDenied, ServiceError
from blog.extensions import db
from blog.i18n import _
from blog.models.user import RecoveryCode, User
from blog.services import audit

log = logging.getLogger(__name__)

RECOVERY_CODE_COUNT = 10
# 16 characters from 31 that cannot be mistaken for one another (no 0/o, 1/l/i): about 79 bits each.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 16
STEP_SECONDS = 30
# How long the second step of a sign-in may wait after the password was accepted.
PENDING_SECONDS = 300


class SignInExpired(ServiceError):
    """The password step is too old, or the account changed since (password, suspension, 2FA off)."""


@dataclass(frozen=True)
class Status:
    enabled: bool
    pending: bool  # a secret was made but not confirmed with a code yet
    recovery_codes_left: int


@dataclass(frozen=True)
class Setup:
    secret: str  # base32, for typing into an app that cannot scan
    uri: str  # otpauth://totp/...
    qr_svg: str  # the URI as an inline SVG QR code (made here from our own data, no user markup)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- storage of secrets and codes -------------------------------------------------------------------

def _fernet() -> Fernet:
    digest = hashlib.sha256(b"blog.two_factor:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _secret_of(user: User) -> str | None:
    if not user.totp_secret:
        return None
    try:
        return _fernet().decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:
        log.error("cannot decrypt the TOTP secret of user %s (was SECRET_KEY changed?)", user.id)
        return None


def _normalize_code(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch not in " -\t")


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalize_code(code).encode()).hexdigest()


def _new_recovery_codes() -> list[str]:
    codes = []
    for _i in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _j in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = _new_recovery_codes()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(code)) for code in codes)
    return codes


def _recovery_codes_left(user: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


# ---- checking codes ---------------------------------------------------------------------------------

def _is_totp_shaped(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (one early, current or one late) whose code is ``code``, else None."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept_totp(user: User, code: str, now: float) -> bool:
    """Accept ``code`` once: the step is recorded with a conditional UPDATE, so a replay (or two requests
    racing with one code) finds it taken. Raises InvalidInput on ``code`` for a replay."""
    secret = _secret_of(user)
    step = _matching_step(secret, code, now) if secret else None
    if step is None:
        return False
    claimed = db.session.execute(
        sa.update(User).where(User.id == user.id,
                              sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InvalidInput({"code": [_("This code has been used already. Wait for the next one.")]})
    user.totp_last_step = step
    return True


def _use_recovery_code(user: User, code: str) -> bool:
    used = db.session.execute(
        sa.update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_code(code),
                                      RecoveryCode.used_at.is_(None))
        .values(used_at=_now()).execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        return False
    audit.record(actor=user, action="two_factor.recovery_code_used", target_type="user", target_id=user.id,
                 after={"recovery_codes_left": _recovery_codes_left(user)})
    return True


def _check_second_factor(user: User, code: str, now: float) -> bool:
    """True when ``code`` is a fresh TOTP code or an unused recovery code (which it uses up)."""
    code = _normalize_code(code)
    if not code:
        return False
    if _is_totp_shaped(code):
        return _accept_totp(user, code, now)
    return _use_recovery_code(user, code)


def _wrong_code() -> InvalidInput:
    return InvalidInput({"code": [_("That code is not valid. Enter the current code from your app, or a "
                                    "recovery code.")]})


# ---- reading ----------------------------------------------------------------------------------------

def status(*, actor: User) -> Status:
    return Status(enabled=actor.has_two_factor, pending=bool(actor.totp_secret) and not actor.has_two_factor,
                  recovery_codes_left=_recovery_codes_left(actor) if actor.has_two_factor else 0)


def required_for(user) -> bool:
    """True when ``user`` must use two-factor authentication: an administrator while REQUIRE_ADMIN_2FA is on."""
    return bool(current_app.config.get("REQUIRE_ADMIN_2FA")) and permissions.has_role(user, "admin")


def setup_required(user) -> bool:
    """True when ``user`` must set up two-factor authentication before using the admin pages."""
    return required_for(user) and not user.has_two_factor


def pending_setup(*, actor: User) -> Setup | None:
    """The secret waiting for confirmation, as text, URI and QR code; None when there is none."""
    if actor.has_two_factor:
        return None
    secret = _secret_of(actor)
    if secret is None:
        return None
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=actor.username, issuer_name=current_app.config["SITE_NAME"])
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", svgclass="qr-code")
    return Setup(secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), uri=uri, qr_svg=qr_svg)


# ---- changing ---------------------------------------------------------------------------------------

def begin_setup(*, actor: User) -> None:
    """Make a new secret for ``actor`` to confirm with :func:`enable`; keeps one already waiting. Commits.

    Raises InvalidInput when two-factor authentication is on already.
    """
    if actor.has_two_factor:
        raise InvalidInput({"_": [_("Two-factor authentication is on already.")]})
    if _secret_of(actor) is None:
        actor.totp_secret = _encrypt(pyotp.random_base32())
        actor.totp_last_step = None
        db.session.commit()


def cancel_setup(*, actor: User) -> None:
    """Forget a secret that was never confirmed. Commits; does nothing when two-factor authentication is on."""
    if not actor.has_two_factor and actor.totp_secret:
        actor.totp_secret = None
        db.session.commit()


def enable(*, actor: User, code: str, now: float | None = None) -> list[str]:
    """Turn two-factor authentication on once ``code`` matches the waiting secret; returns ten new recovery
    codes to show once. Commits, with an audit event.

    Raises InvalidInput on ``code`` for a wrong code, or on ``_`` when nothing waits for confirmation.
    """
    if actor.has_two_factor:
        raise InvalidInput({"_": [_("Two-factor authentication is on already.")]})
    if _secret_of(actor) is None:
        raise InvalidInput({"_": [_("Start the setup again: there is no code to confirm.")]})
    code = _normalize_code(code)
    if not _is_totp_shaped(code) or not _accept_totp(actor, code, time.time() if now is None else now):
        raise InvalidInput({"code": [_("That code does not match. Check the time on your device and enter the "
                                       "current code.")]})
    actor.totp_enabled_at = _now()
    codes = _replace_recovery_codes(actor)
    audit.record(actor=actor, action="two_factor.enabled", target_type="user", target_id=actor.id)
    db.session.commit()
    return codes


def _turn_off(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def disable(*, actor: User, password: str = "", code: str = "", now: float | None = None) -> None:
    """Turn two-factor authentication off after checking ``password`` or a ``code`` (TOTP or recovery).
    Commits, with an audit event.

    Raises InvalidInput when neither checks out, and on ``_`` when REQUIRE_ADMIN_2FA keeps an admin's on.
    """
    if not actor.has_two_factor:
        return
    if required_for(actor):
        raise InvalidInput({"_": [_("Administrators must keep two-factor authentication on.")]})
    if password:
        if not check_password_hash(actor.password_hash or "", password):
            raise InvalidInput({"password": [_("Your password is not correct.")]})
    elif not code:
        raise InvalidInput({"_": [_("Enter your password or a code.")]})
    elif not _check_second_factor(actor, code, time.time() if now is None else now):
        raise _wrong_code()
    _turn_off(actor)
    audit.record(actor=actor, action="two_factor.disabled", target_type="user", target_id=actor.id)
    db.session.commit()


def regenerate_recovery_codes(*, actor: User, password: str) -> list[str]:
    """Replace ``actor``'s recovery codes with ten new ones, returned to show once. Commits, with an audit event.

    Raises InvalidInput for a wrong password, or when two-factor authentication is off.
    """
    if not actor.has_two_factor:
        raise InvalidInput({"_": [_("Turn two-factor authentication on first.")]})
    if not check_password_hash(actor.password_hash or "", password or ""):
        raise InvalidInput({"password": [_("Your password is not correct.")]})
    codes = _replace_recovery_codes(actor)
    audit.record(actor=actor, action="two_factor.recovery_codes_replaced", target_type="user", target_id=actor.id)
    db.session.commit()
    return codes


def reset(*, actor, user_id: int) -> User:
    """Turn off a user's two-factor authentication for them (lost device and codes): an administrator's or
    the operator's way back in. Commits, with an audit event; does nothing when it is off.

    Raises PermissionDenied (not an admin), NotFound.
    """
    if not permissions.can_administer(actor):
        raise PermissionDenied(_("Only administrators can do this."))
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no such user."))
    if user.has_two_factor or user.totp_secret:
        was_on = user.has_two_factor
        _turn_off(user)
        if was_on:
            audit.record(actor=actor, action="two_factor.reset", target_type="user", target_id=user.id)
        db.session.commit()
    return user


# ---- signing in -------------------------------------------------------------------------------------

def verify_sign_in(*, user_id: int, session_token: str, started_at: float, code: str,
                   now: float | None = None) -> User:
    """The second step of a sign-in: the user whose password was accepted at ``started_at``, once ``code`` is
    a fresh TOTP code or an unused recovery code. Commits (the used step or code; an audit event for a
    recovery code).

    Raises SignInExpired when the first step is older than PENDING_SECONDS or the account changed since
    (``session_token`` no longer matches, suspended, two-factor turned off), InvalidInput on ``code``.
    """
    now = time.time() if now is None else now
    user = db.session.get(User, user_id)
    if (user is None or not user.is_active or not user.has_two_factor
            or not secrets.compare_digest(user.session_token, session_token or "")
            or not 0 <= now - started_at <= PENDING_SECONDS):
        raise SignInExpired(_("Your sign-in has expired. Enter your password again."))
    if not _check_second_factor(user, code, now):
        db.session.rollback()
        raise _wrong_code()
    db.session.commit()
    return user
