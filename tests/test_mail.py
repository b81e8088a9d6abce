"""The mail transport against a real SMTP server (aiosmtpd on a free loopback port)."""
from email import policy
from email.parser import BytesParser

import pytest

from blog import mail
from tests.support import free_port, start_smtp


class Collector:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    handler = Collector()
    controller = start_smtp(handler)
    yield controller, handler
    controller.stop()


def test_sends_text_and_html_with_utf8_headers(smtp_server):
    controller, handler = smtp_server
    settings = mail.Settings(server="127.0.0.1", port=controller.port, sender="Blög <noreply@blog.test>")
    message = mail.build(to="zoë@example.com", subject="Bestätigen Sie Ihre Adresse", text="Hallo Zoë",
                         html="<p>Hallo <b>Zoë</b></p>", sender=settings.sender)
    mail.send(message, settings)
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.rcpt_tos == ["zoë@example.com"] or envelope.rcpt_tos == ["zo\u00eb@example.com"]
    parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
    assert parsed["Subject"] == "Bestätigen Sie Ihre Adresse"
    assert parsed.get_body(("plain",)).get_content().strip() == "Hallo Zoë"
    assert "<b>Zoë</b>" in parsed.get_body(("html",)).get_content()
    assert parsed["Message-ID"].endswith("@blog.test>")


def test_without_a_server_mail_goes_to_the_outbox_folder(tmp_path):
    settings = mail.Settings(server=None, outbox=str(tmp_path))
    mail.send(mail.build(to="a@example.com", subject="S", text="T", html=None, sender=settings.sender), settings)
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1 and b"Subject: S" in files[0].read_bytes()


def test_a_refused_connection_raises_for_the_job_to_retry():
    settings = mail.Settings(server="127.0.0.1", port=free_port(), timeout=2)
    with pytest.raises(OSError):
        mail.send(mail.build(to="a@example.com", subject="S", text="T", html=None, sender=settings.sender), settings)
