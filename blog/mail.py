"""SMTP transport only: build a MIME message and hand it to a server, or to a folder of .eml files.

Needs no app context: callers pass the settings. Raises ``smtplib`` and ``OSError`` exceptions as they
come, so the job that calls it can tell temporary failures from permanent ones.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    server: str | None
    port: int = 25
    use_tls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "Blog <no-reply@localhost>"
    outbox: str = "instance/outbox"
    timeout: float = 10.0


def build(*, to: str, subject: str, text: str, html: str | None, sender: str, message_id: str | None = None
          ) -> EmailMessage:
    """A UTF-8 message with a plain-text part and, when given, an HTML alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message.set_content(text, charset="utf-8")
    if html:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def send(message: EmailMessage, settings: Settings) -> None:
    """Deliver ``message`` over SMTP, or write it to ``settings.outbox`` when no server is configured."""
    if not settings.server:
        outbox = Path(settings.outbox)
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(message.as_bytes())
        log.info("mail to %s written to %s (no MAIL_SERVER configured)", message["To"], path)
        return
    with smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout) as smtp:
        if settings.use_tls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def check(settings: Settings) -> None:
    """Connect, greet and say NOOP: proves the SMTP server answers (and accepts the login, when set).

    Raises ``smtplib.SMTPException`` or ``OSError``; with no server configured there is nothing to check.
    """
    if not settings.server:
        return
    with smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout) as smtp:
        smtp.ehlo()
        if settings.use_tls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        code, _msg = smtp.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, b"NOOP refused")
