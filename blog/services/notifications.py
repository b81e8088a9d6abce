"""Emails the system sends: rendered here, in the recipient's language, then queued for delivery.

Callers commit first and then call these functions ("commit, then enqueue").
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, has_request_context, render_template, url_for

from blog.extensions import db
from blog.i18n import _l, force_locale
from blog.jobs import email as email_job
from blog.jobs.queue import Enqueued, enqueue
from blog.models.jobs import EmailDelivery
from blog.services import tokens

MODERATION_MAIL_EVERY = timedelta(hours=1)


def external_url(endpoint: str, _anchor: str | None = None, **values) -> str:
    """An absolute URL. ``BASE_URL`` wins over the request's Host header, which a client can forge."""
    base = current_app.config.get("BASE_URL")
    if base:
        parts = urlsplit(base)
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
        url = adapter.build(endpoint, values, force_external=True)
    elif has_request_context():
        url = url_for(endpoint, _external=True, **values)
    else:
        raise RuntimeError("BASE_URL must be set to build links outside a request")
    return f"{url}#{_anchor}" if _anchor else url


def _locale_for(user, fallback: str | None = None) -> str:
    """The recipient's saved language, else ``fallback`` (the language they used to sign up), else the default."""
    for locale in (getattr(user, "locale", None), fallback):
        if locale in current_app.config["LANGUAGES"]:
            return locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _send(*, user, to: str, template: str, subject, ref: str | None = None, locale: str | None = None,
          **context) -> Enqueued:
    """Render ``email/<template>.txt`` and ``.html`` in ``user``'s language, record the delivery,
    commit, then queue it with retries. ``subject`` is a lazy string (``_l``), translated here.
    """
    with force_locale(_locale_for(user, locale)):
        subject_text = str(subject)
        text = render_template(f"email/{template}.txt", user=user, **context)
        html = render_template(f"email/{template}.html", user=user, subject=subject_text, **context)
    key = uuid.uuid4().hex
    db.session.add(EmailDelivery(idempotency_key=key, kind=template, ref=ref, recipient=to, subject=subject_text[:300]))
    db.session.commit()
    return enqueue(email_job.send_email, key, to, subject_text, text, html, queue="emails",
                   retry_intervals=current_app.config["MAIL_RETRY_INTERVALS"])


def send_confirmation(user, *, locale: str | None = None) -> Enqueued:
    """Mail a link that confirms ``user.email``, in ``locale`` when the user has not saved a language."""
    token = tokens.make(tokens.CONFIRM_EMAIL, {"uid": user.id, "fp": tokens.fingerprint(user.email)})
    return _send(user=user, to=user.email, template="confirm", locale=locale, subject=_l("Confirm your email address"),
          url=external_url("auth.confirm", token=token))


def send_password_reset(user) -> Enqueued:
    """Mail a one-hour, single-use password reset link."""
    token = tokens.make(tokens.RESET_PASSWORD, {"uid": user.id, "fp": tokens.fingerprint(user.password_hash)})
    return _send(user=user, to=user.email, template="reset_password", subject=_l("Reset your password"),
          url=external_url("auth.reset_password", token=token))


def send_email_change(user, new_email: str) -> Enqueued:
    """Mail the new address a link that switches the account to it."""
    token = tokens.make(tokens.CHANGE_EMAIL,
                        {"uid": user.id, "new": new_email, "fp": tokens.fingerprint(user.email)})
    return _send(user=user, to=new_email, template="change_email", subject=_l("Confirm your new email address"),
          url=external_url("settings.confirm_email_change", token=token), new_email=new_email)


def send_email_changed_notice(user, old_email: str) -> Enqueued:
    """Tell the old address that the account now uses another one."""
    return _send(user=user, to=old_email, template="email_changed", subject=_l("Your email address was changed"),
          new_email=user.email)


def notify_moderation_needed(post, *, now: datetime | None = None) -> Enqueued | None:
    """Tell the post's author that comments wait for moderation: at most one mail per post per hour."""
    now = now or datetime.now(timezone.utc)
    recent = db.session.scalar(
        sa.select(sa.func.count()).select_from(EmailDelivery)
        .where(EmailDelivery.kind == "moderation", EmailDelivery.ref == str(post.id),
               EmailDelivery.created_at > now - MODERATION_MAIL_EVERY)
    )
    if recent:
        return None
    return _send(user=post.author, to=post.author.email, template="moderation", ref=str(post.id),
                 subject=_l("Comments wait for your approval"), post_title=post.title,
                 url=external_url("moderation.queue"))


def notify_comment_approved(comment) -> Enqueued:
    """Tell a commenter that their comment is now public."""
    return _send(user=comment.author, to=comment.author.email, template="comment_approved", ref=str(comment.id),
                 subject=_l("Your comment is published"), post_title=comment.post.title,
                 url=external_url("public.post", slug=comment.post.slug, _anchor=f"comment-{comment.id}"))
