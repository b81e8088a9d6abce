"""The email job: transport only. Subject and bodies arrive rendered in the recipient's language.

Idempotent: the delivery row named by ``key`` records a success, so a retried or duplicated job never
sends the same message twice. Temporary SMTP failures (no connection, 4xx) raise, and RQ retries them
with backoff; permanent ones (5xx) are recorded on the row and not retried, until an operator requeues
the failed job (the admin's jobs page, ``flask jobs requeue-failed``): then it tries again.
"""
from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app
from rq import get_current_job

from blog import mail
from blog.extensions import db
from blog.models.jobs import EmailDelivery

RETRY_INTERVALS = [10, 30, 60, 300, 900]
log = logging.getLogger(__name__)


class PermanentEmailFailure(Exception):
    """The server refused the message for good (5xx): retrying cannot help."""


def settings_from_config(config) -> mail.Settings:
    return mail.Settings(
        server=config.get("MAIL_SERVER"),
        port=config.get("MAIL_PORT", 25),
        use_tls=config.get("MAIL_USE_TLS", False),
        username=config.get("MAIL_USERNAME"),
        password=config.get("MAIL_PASSWORD"),
        sender=config.get("MAIL_DEFAULT_SENDER"),
        outbox=config.get("MAIL_OUTBOX"),
    )


def _smtp_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return min(codes) if codes else None
    return getattr(exc, "smtp_code", None)


def is_permanent(exc: Exception) -> bool:
    """5xx answers are permanent; refused connections, timeouts and 4xx answers are worth retrying."""
    code = _smtp_code(exc)
    return code is not None and 500 <= code < 600


def send_email(key: str, to: str, subject: str, text: str, html: str | None = None) -> str:
    """Send the message recorded as delivery ``key``; returns its final status ("sent" or "failed")."""
    delivery = db.session.scalar(sa.select(EmailDelivery).where(EmailDelivery.idempotency_key == key))
    if delivery is not None and delivery.status == "sent":
        return delivery.status  # a retry or a duplicate after success: nothing to do
    # A "failed" row is no reason to stop: RQ never retries a permanent failure, so only an operator's
    # requeue (after the mailbox was fixed) runs the job again, and it must really try.
    settings = settings_from_config(current_app.config)
    domain = settings.sender.rpartition("@")[2].strip("> ") or "localhost"
    message = mail.build(to=to, subject=subject, text=text, html=html, sender=settings.sender,
                         message_id=f"<{key}@{domain}>")
    try:
        mail.send(message, settings)
    except (smtplib.SMTPException, OSError) as exc:
        permanent = is_permanent(exc)
        if delivery is not None:
            delivery.attempts += 1
            delivery.error = f"{type(exc).__name__}: {exc}"[:500]
            if permanent:
                delivery.status = "failed"
            db.session.commit()
        if permanent:
            job = get_current_job()
            if job is not None:
                job.retries_left = 0  # RQ reads this right after the job raises: no retry
            log.error("email %s to %s refused for good: %s", key, to, exc)
            raise PermanentEmailFailure(str(exc)) from exc
        log.warning("email %s to %s failed for now, will retry: %s", key, to, exc)
        raise
    if delivery is not None:
        delivery.status, delivery.sent_at = "sent", datetime.now(timezone.utc)
        delivery.attempts += 1
        delivery.error = None
        db.session.commit()
    return "sent"
