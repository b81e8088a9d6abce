import pytest
from flask import abort

from blog.exceptions import PermissionDenied

def test_healthz_answers_while_the_process_runs(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_checks_database_and_storage(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": {"ok": True}, "storage": {"ok": True}}


def test_readyz_names_an_unreachable_database(make_app):
    app = make_app(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["database"]
    assert response.json["status"] == "unavailable"


def test_readyz_checks_redis_when_configured(make_app, redis_url):
    assert make_app(REDIS_URL=redis_url).test_client().get("/readyz").json["checks"]["redis"] == {"ok": True}
    response = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["redis"]


def test_readyz_names_unwritable_storage(make_app, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be")
    response = make_app(MEDIA_ROOT=str(blocked)).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["storage"]


@pytest.fixture
def failing_app(make_app):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    @app.get("/forbidden")
    def forbidden():
        raise PermissionDenied()

    @app.get("/aborted")
    def aborted():
        abort(403)

    return app


def test_404_is_a_page_in_the_site_layout(client):
    response = client.get("/no/such/page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in html and 'class="skip-link"' in html


def test_errors_answer_json_when_asked(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json["error"]["status"] == 404


def test_500_is_rendered_and_logged(failing_app, caplog):
    response = failing_app.test_client().get("/boom")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "kaboom" not in response.get_data(as_text=True)
    assert any("unhandled error on GET /boom" in r.message for r in caplog.records)
    json_response = failing_app.test_client().get("/boom", headers={"Accept": "application/json"})
    assert json_response.status_code == 500 and json_response.json["error"]["status"] == 500


@pytest.mark.parametrize("path", ["/forbidden", "/aborted"])
def test_403_is_rendered(failing_app, path):
    response = failing_app.test_client().get(path)
    assert response.status_code == 403
    assert "You may not do that" in response.get_data(as_text=True)


def test_405_keeps_the_allow_header(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_basic_security_headers(client):
    headers = client.get("/").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
