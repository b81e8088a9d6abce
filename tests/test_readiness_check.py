"""``flask check``: each production requirement is reported, and the exit code says whether all hold."""
import pytest

from tests.support import free_port, start_smtp


def lines(result) -> dict[str, str]:
    out = {}
    for line in result.output.splitlines():
        status, _sep, rest = line.partition("  ")
        if status in ("ok", "FAIL") or status.startswith("ok"):
            name = rest.split()[0] if rest.split() else ""
            out[name] = status.strip()
    return out


def test_the_embedded_default_is_not_ready_for_production(app):
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1
    status = lines(result)
    assert status["configuration"] == "FAIL" and "REDIS_URL is missing" in result.output
    assert status["redis"] == "FAIL" and status["smtp"] == "FAIL" and status["https"] == "FAIL"
    assert status["migrations"] == "ok" and status["storage"] == "ok" and status["debug"] == "ok"
    assert "checks failed" in result.output


@pytest.fixture
def smtp_port():
    class Quiet:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = start_smtp(Quiet())
    yield controller.port
    controller.stop()


def test_services_that_answer_pass_and_missing_workers_fail(app, make_app, redis, redis_url, smtp_port):
    configured = make_app(REDIS_URL=redis_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_port,
                          BASE_URL="https://blog.example.com", PREFERRED_URL_SCHEME="https",
                          SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    with configured.app_context():  # the CLI runner uses the active app context
        result = configured.test_cli_runner().invoke(args=["check"])
    status = lines(result)
    assert status["redis"] == "ok" and status["smtp"] == "ok" and status["https"] == "ok"
    assert status["secure"] == "ok"
    assert status["workers"] == "FAIL" and "start python worker.py" in result.output
    assert result.exit_code == 1


def test_an_smtp_server_that_does_not_answer_fails(app, make_app):
    dead = free_port()
    configured = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=dead)
    with configured.app_context():
        result = configured.test_cli_runner().invoke(args=["check"])
    assert lines(result)["smtp"] == "FAIL" and "ConnectionRefusedError" in result.output
