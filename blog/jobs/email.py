"""The email job: transport only. Subject and bodies arrive rendered in the recipient's language."""
from __future__ import annotations

from flask import current_app

from blog import mail


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


def send_email(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message. Runs in a worker (or inline on the embedded default)."""
    settings = settings_from_config(current_app.config)
    mail.send(mail.build(to=to, subject=subject, text=text, html=html, sender=settings.sender), settings)
