"""Emails the system sends: rendered here, in the recipient's language, then queued for delivery.

Callers commit first and then call these functions ("commit, then enqueue").
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, render_template, url_for

from blog.i18n import _l, force_locale
from blog.jobs import email as email_job
from blog.jobs.queue import enqueue
from blog.services import tokens


def external_url(endpoint: str, **values) -> str:
    """An absolute URL. ``BASE_URL`` wins over the request's Host header, which a client can forge."""
    base = current_app.config.get("BASE_URL")
    if base:
        parts = urlsplit(base)
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
        return adapter.build(endpoint, values, force_external=True)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    raise RuntimeError("BASE_URL must be set to build links outside a request")


def _locale_for(user) -> str:
    locale = getattr(user, "locale", None)
    return locale if locale in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def _send(*, user, to: str, template: str, subject, **context) -> None:
    """Render ``email/<template>.txt`` and ``.html`` in ``user``'s language and queue the message.

    ``subject`` is a lazy string (``_l``) so it is translated here, inside the recipient's locale.
    """
    with force_locale(_locale_for(user)):
        subject_text = str(subject)
        text = render_template(f"email/{template}.txt", user=user, **context)
        html = render_template(f"email/{template}.html", user=user, subject=subject_text, **context)
    enqueue(email_job.send_email, to, subject_text, text, html, queue="emails")


def send_confirmation(user) -> None:
    """Mail a link that confirms ``user.email``."""
    token = tokens.make(tokens.CONFIRM_EMAIL, {"uid": user.id, "fp": tokens.fingerprint(user.email)})
    _send(user=user, to=user.email, template="confirm", subject=_l("Confirm your email address"),
          url=external_url("auth.confirm", token=token))


def send_password_reset(user) -> None:
    """Mail a one-hour, single-use password reset link."""
    token = tokens.make(tokens.RESET_PASSWORD, {"uid": user.id, "fp": tokens.fingerprint(user.password_hash)})
    _send(user=user, to=user.email, template="reset_password", subject=_l("Reset your password"),
          url=external_url("auth.reset_password", token=token))


def send_email_change(user, new_email: str) -> None:
    """Mail the new address a link that switches the account to it."""
    token = tokens.make(tokens.CHANGE_EMAIL,
                        {"uid": user.id, "new": new_email, "fp": tokens.fingerprint(user.email)})
    _send(user=user, to=new_email, template="change_email", subject=_l("Confirm your new email address"),
          url=external_url("settings.confirm_email_change", token=token), new_email=new_email)


def send_email_changed_notice(user, old_email: str) -> None:
    """Tell the old address that the account now uses another one."""
    _send(user=user, to=old_email, template="email_changed", subject=_l("Your email address was changed"),
          new_email=user.email)
