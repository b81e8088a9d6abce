"""Response headers (CSP and friends), cookies and sessions, and trusted hosts.

- Every response carries the same security headers: pages, errors, redirects, 304s, static files, JSON,
  feeds, local media and pages served from the Redis page cache.
- The Content-Security-Policy lets no inline script run, and names the media origins the storage backend
  really uses (checked against the URLs botocore makes); Chromium loads the pages that use scripts, JSON-LD,
  table alignment and images without a single violation.
- Cookies are Secure (production), HttpOnly and SameSite=Lax; what a session held before sign-in (a CSRF
  token) is gone after it; a remember-me cookie dies with "sign out everywhere" and a password change.
  (Session rotation, and the session side of the last two, are in tests/test_auth_http.py.)
- A Host header outside TRUSTED_HOSTS is answered 400 before any view runs; reset links come from BASE_URL.
"""
from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from blog.app import content_security_policy, media_origins
from blog.config import HSTS_MAX_AGE, Config, validate
from blog.extensions import db
from tests import media_samples as samples
from tests.conftest import Outbox, link_in
from tests.factories import PASSWORD, make_post, make_user

GOOD = "a-strong passphrase 42"
PRODUCTION = {
    "BLOG_ENV": "production",
    "SECRET_KEY": "k" * 20 + "9f8e7d6c5b4a3210fedcba",
    "DATABASE_URL": "postgresql://blog@db.internal/blog",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "STORAGE_BACKEND": "s3",
    "S3_BUCKET": "blog-media",
    "MAIL_SERVER": "smtp.internal",
    "BASE_URL": "https://blog.example.com",
}
# What the production configuration decides about cookies, hosts and HSTS, applied to a test app.
PRODUCTION_SECURITY_KEYS = ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
                            "REMEMBER_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "REMEMBER_COOKIE_SAMESITE",
                            "REMEMBER_COOKIE_DURATION", "TRUSTED_HOSTS", "HSTS_MAX_AGE", "PREFERRED_URL_SCHEME",
                            "BASE_URL")
EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def csp(response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: [sources]}."""
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} appears twice"
        directives[name] = sources
    return directives


def assert_security_headers(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.status_code, response.request.path)
    assert response.headers.get("Permissions-Policy"), response.request.path
    policy = csp(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


@pytest.fixture
def production_app(app, make_app):
    """A test app with the production configuration's cookie, host and HSTS decisions (no other services)."""
    production = Config.from_env(PRODUCTION)
    built = make_app(**{key: getattr(production, key) for key in PRODUCTION_SECURITY_KEYS})
    with built.app_context():
        yield built


# ---- headers on every kind of response ------------------------------------------------------------------

@pytest.fixture
def varied_app(make_app):
    built = make_app()

    @built.get("/test-boom")
    def boom():
        raise RuntimeError("kaboom")

    return built


def test_every_kind_of_response_carries_the_headers(app, varied_app):
    author = make_user("author", username="ada")
    post = make_post(author, title="Headers everywhere")
    client = varied_app.test_client()
    responses = {
        "page": client.get("/"),
        "post": client.get(f"/p/{post.slug}"),
        "redirect to sign in": client.get("/settings/profile"),
        "404": client.get("/no/such/page"),
        "404 JSON": client.get("/no/such/page", headers={"Accept": "application/json"}),
        "405": client.post("/healthz"),
        "500": client.get("/test-boom"),
        "JSON": client.get("/healthz"),
        "feed": client.get("/feed.atom"),
        "robots": client.get("/robots.txt"),
        "static": client.get("/static/css/site.css"),
        "language redirect": client.get("/language?locale=de&next=/"),
    }
    etag = responses["static"].headers["ETag"]
    responses["static 304"] = client.get("/static/css/site.css", headers={"If-None-Match": etag})
    feed_etag = responses["feed"].headers["ETag"]
    responses["feed 304"] = client.get("/feed.atom", headers={"If-None-Match": feed_etag})
    expected_status = {"page": 200, "post": 200, "redirect to sign in": 302, "404": 404, "404 JSON": 404,
                       "405": 405, "500": 500, "JSON": 200, "feed": 200, "robots": 200, "static": 200,
                       "language redirect": 303, "static 304": 304, "feed 304": 304}
    for name, response in responses.items():
        assert response.status_code == expected_status[name], name
        assert_security_headers(response)
        response.close()


def test_csrf_refusals_and_local_media_carry_the_headers(app, make_app):
    from blog.services import media

    protected = make_app(WTF_CSRF_ENABLED=True)
    client = protected.test_client()
    refused = client.post("/login", data={"login": "x", "password": "y"})
    assert refused.status_code == 400
    assert_security_headers(refused)

    with protected.app_context():  # its own MEDIA_ROOT
        owner = make_user("author")
        item = media.upload(actor=owner, stream=io.BytesIO(samples.jpeg(640, 480)), filename="a.jpg",
                            content_type="image/jpeg", alt_text="A test image")
        post = make_post(owner, source=f"![A test image](media:{item.id})")
        slug = post.slug
        db.session.remove()
    html = client.get(f"/p/{slug}").get_data(as_text=True)
    url = re.search(r'src="(/media/[^"]+)"', html).group(1).replace("&amp;", "&")
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype.startswith("image/")
    assert_security_headers(served)
    tampered = client.get(url.replace("signature=", "signature=0"))
    assert tampered.status_code == 403
    assert_security_headers(tampered)


def test_pages_from_the_redis_page_cache_carry_the_headers(app, make_app, redis, redis_url):
    cached = make_app(REDIS_URL=redis_url)
    with cached.app_context():
        make_post(make_user(username="ada"), title="Cached")
        client = cached.test_client()
        first = client.get("/")
        hit = client.get("/")
        assert (first.headers["X-Page-Cache"], hit.headers["X-Page-Cache"]) == ("miss", "hit")
        not_modified = client.get("/", headers={"If-None-Match": hit.headers["ETag"]})
        assert not_modified.status_code == 304 and not_modified.headers["X-Page-Cache"] == "hit"
        for response in (first, hit, not_modified):
            assert_security_headers(response)
        db.session.remove()


# ---- the policy itself ----------------------------------------------------------------------------------

def test_the_default_policy(client):
    policy = csp(client.get("/"))
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": policy["style-src-attr"],  # checked below
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    # Inline style attributes: only the three table alignments the sanitizer writes, by hash.
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
              for s in ("text-align:left;", "text-align:center;", "text-align:right;")}
    assert policy["style-src-attr"][0] == "'unsafe-hashes'" and set(policy["style-src-attr"][1:]) == hashes


def test_the_sanitizer_writes_table_alignment_exactly_as_the_policy_allows():
    from blog import sanitize

    html = sanitize.render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |", comment=False,
                                    internal_hosts=()).html
    for style in ("text-align:left;", "text-align:center;", "text-align:right;"):
        assert f'style="{style}"' in html


def test_no_hsts_outside_production(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    assert Config.from_env({}).HSTS_MAX_AGE == 0


def test_hsts_in_production(production_app):
    assert Config.from_env(PRODUCTION).HSTS_MAX_AGE == HSTS_MAX_AGE == 63072000
    response = production_app.test_client().get("/healthz", base_url="https://blog.example.com")
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


def test_s3_media_origin_is_allowed_for_images_and_uploads(app, make_app, aws_env):
    s3 = make_app(STORAGE_BACKEND="s3", S3_BUCKET="blog-media", S3_REGION="us-east-1",
                  S3_ENDPOINT_URL="http://127.0.0.1:9000/", CSP_MEDIA_ORIGINS=("https://cdn.example.com",))
    policy = csp(s3.test_client().get("/healthz"))
    assert policy["img-src"] == ["'self'", "data:", "https:", "http://127.0.0.1:9000", "https://cdn.example.com"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:9000", "https://cdn.example.com"]
    assert policy["form-action"] == ["'self'"]  # without JavaScript, uploads post to the app


@pytest.mark.parametrize("bucket, region, endpoint", [
    ("blog-media", None, None),
    ("blog-media", "us-east-1", None),
    ("blog-media", "eu-west-1", None),
    ("my.dotted.bucket", None, None),
    ("my.dotted.bucket", "eu-west-1", None),
    ("blog-media", "us-east-1", "http://127.0.0.1:9000"),
    ("blog-media", "us-east-1", "https://minio.example.com:9443/"),
])
def test_media_origins_cover_the_urls_botocore_makes(aws_env, bucket, region, endpoint):
    """Read URLs and direct-upload forms come from an origin the policy names (no request is made)."""
    from blog.app import _origin
    from blog.storage.s3 import S3Storage

    storage = S3Storage(bucket, region, endpoint, 3600)
    allowed = media_origins({"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_REGION": region,
                             "S3_ENDPOINT_URL": endpoint})
    read = storage.url_for_read("1/abc/w640.webp")
    upload = storage.presigned_upload("1/abc/original", content_type="image/png", max_size=100)["url"]
    assert _origin(read) in allowed and _origin(upload) in allowed, (read, upload, allowed)


def test_local_storage_needs_no_other_origin():
    assert media_origins({"STORAGE_BACKEND": "local"}) == []
    assert "img-src 'self' data: https:;" in content_security_policy({"STORAGE_BACKEND": "local"})


def test_csp_media_origins_setting_is_read_and_checked():
    config = Config.from_env({"CSP_MEDIA_ORIGINS": " https://cdn.example.com/ , https://*.img.example.org:8443"})
    assert config.CSP_MEDIA_ORIGINS == ("https://cdn.example.com", "https://*.img.example.org:8443")
    assert validate(config) == []
    for bad in ("https://cdn.example.com; script-src *", "javascript:", "'unsafe-inline'", "*",
                "https://cdn.example.com/path", "data:"):
        problems = validate(Config.from_env({"CSP_MEDIA_ORIGINS": bad}))
        assert len(problems) == 1 and "CSP_MEDIA_ORIGINS" in problems[0], bad


# ---- cookies and sessions -------------------------------------------------------------------------------

def test_production_cookie_settings():
    config = Config.from_env(PRODUCTION)
    assert config.SESSION_COOKIE_SECURE and config.REMEMBER_COOKIE_SECURE
    assert config.SESSION_COOKIE_HTTPONLY and config.REMEMBER_COOKIE_HTTPONLY
    assert config.SESSION_COOKIE_SAMESITE == config.REMEMBER_COOKIE_SAMESITE == "Lax"
    assert config.REMEMBER_COOKIE_DURATION == 30 * 24 * 3600
    assert Config.from_env({**PRODUCTION, "REMEMBER_COOKIE_DAYS": "7"}).REMEMBER_COOKIE_DURATION == 7 * 24 * 3600
    development = Config.from_env({})
    assert not development.SESSION_COOKIE_SECURE and development.SESSION_COOKIE_HTTPONLY


@pytest.mark.parametrize("days", ["0", "366"])
def test_remember_me_lifetime_must_be_sensible(days):
    problems = validate(Config.from_env({"REMEMBER_COOKIE_DAYS": days}))
    assert problems == ["REMEMBER_COOKIE_DAYS must be between 1 and 365"]


def set_cookies(response) -> dict[str, str]:
    """{name: the whole Set-Cookie header} for each cookie the response sets."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        found[header.split("=", 1)[0]] = header
    return found


def test_cookies_as_sent_in_production(production_app):
    make_user(username="ada")
    client = production_app.test_client()
    response = client.post("/login", data={"login": "ada", "password": PASSWORD, "remember": "y"},
                           base_url="https://blog.example.com")
    assert response.status_code == 302
    cookies = set_cookies(response)
    for name in ("session", "remember_token"):
        attributes = [part.strip().lower() for part in cookies[name].split(";")]
        assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes, cookies[name]
    morsel = SimpleCookie(cookies["remember_token"])["remember_token"]
    expires = parsedate_to_datetime(morsel["expires"])
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(days=30))) < timedelta(minutes=5)
    assert "expires" not in cookies["session"].lower()  # the session cookie ends with the browser


def test_nothing_from_before_sign_in_survives_it(app, make_app):
    """A CSRF token (and any other session value) from before sign-in is refused afterwards."""
    make_user(username="ada")
    protected = make_app(WTF_CSRF_ENABLED=True)
    client = protected.test_client()
    before = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                       client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"login": "ada", "password": PASSWORD, "csrf_token": before}).status_code == 302
    stale = client.post("/settings/profile", data={"display_name": "X", "csrf_token": before})
    assert stale.status_code == 400


@pytest.mark.parametrize("ending", ["sign-out-everywhere", "password-change"])
def test_remember_me_cookies_end_with_every_session(app, ending):
    make_user(username="ada")
    here, other_device = app.test_client(), app.test_client()
    here.post("/login", data={"login": "ada", "password": PASSWORD, "remember": "y"})
    other_device.post("/login", data={"login": "ada", "password": PASSWORD, "remember": "y"})
    remembered = other_device.get_cookie("remember_token").value
    # The other device restarts its browser: only the remember-me cookie is left, and it signs in again.
    restarted = app.test_client()
    restarted.set_cookie("remember_token", remembered)
    assert restarted.get("/settings/profile").status_code == 200
    if ending == "sign-out-everywhere":
        here.post("/settings/sign-out-everywhere")
    else:
        here.post("/settings/password", data={"current_password": PASSWORD, "new_password": GOOD, "confirm": GOOD})
    later = app.test_client()
    later.set_cookie("remember_token", remembered)
    response = later.get("/settings/profile")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# ---- trusted hosts --------------------------------------------------------------------------------------

def test_trusted_hosts_configuration():
    assert Config.from_env(PRODUCTION).TRUSTED_HOSTS == ["blog.example.com", "localhost", "127.0.0.1"]
    explicit = Config.from_env({**PRODUCTION, "TRUSTED_HOSTS": "Blog.example.com, .example.org"})
    assert explicit.TRUSTED_HOSTS == ["blog.example.com", ".example.org", "localhost", "127.0.0.1"]
    assert Config.from_env({**PRODUCTION, "TRUSTED_HOSTS": "*"}).TRUSTED_HOSTS is None
    assert Config.from_env({}).TRUSTED_HOSTS is None  # development answers any host
    assert Config.from_env({"TRUSTED_HOSTS": "blog.local"}).TRUSTED_HOSTS == ["blog.local", "localhost", "127.0.0.1"]


def test_production_needs_an_absolute_base_url():
    problems = validate(Config.from_env({**PRODUCTION, "BASE_URL": "blog.example.com"}))
    assert len(problems) == 1 and "BASE_URL must be an absolute address" in problems[0]


@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/login"), ("POST", "/reset"),
                                          ("GET", "/no/such/page"), ("GET", "/p/anything")])
def test_a_forged_host_is_refused(production_app, method, path):
    make_user(username="ada", email="ada@example.com")
    outbox = Outbox(Path(production_app.config["MAIL_OUTBOX"]))
    client = production_app.test_client()
    response = client.open(path, method=method, data={"email": "ada@example.com"},
                           base_url="https://evil.example")
    assert response.status_code == 400
    assert response.get_data(as_text=True) == "Bad request\n"
    assert_security_headers(response)
    assert outbox.messages() == []
    if path == "/reset":  # the same request with the site's own host sends the mail, with BASE_URL links
        sent = client.post(path, data={"email": "ada@example.com"}, base_url="https://blog.example.com")
        assert sent.status_code == 302
        assert "https://blog.example.com/reset/" in outbox.last().get_body(preferencelist=("plain",)).get_content()


def test_forwarded_host_behind_a_proxy_is_checked_too(app, make_app):
    production = Config.from_env(PRODUCTION)
    proxied = make_app(PROXY_COUNT=1, TRUSTED_HOSTS=production.TRUSTED_HOSTS)
    client = proxied.test_client()
    assert client.get("/healthz", base_url="http://127.0.0.1:8000",
                      headers={"X-Forwarded-Host": "blog.example.com"}).status_code == 200
    assert client.get("/healthz", base_url="http://127.0.0.1:8000",
                      headers={"X-Forwarded-Host": "evil.example"}).status_code == 400


def test_trusted_and_loopback_hosts_are_served(production_app):
    client = production_app.test_client()
    assert client.get("/", base_url="https://blog.example.com").status_code == 200
    assert client.get("/healthz", base_url="http://127.0.0.1:8000").status_code == 200  # container health checks
    assert client.get("/healthz", base_url="http://localhost:8000").status_code == 200


def test_reset_links_use_base_url_even_when_the_host_is_forged(client, outbox):
    """Host checking off (development): the link in the email still points at BASE_URL."""
    make_user(username="ada", email="ada@example.com")
    response = client.post("/reset", data={"email": "ada@example.com"}, base_url="http://evil.example")
    assert response.status_code == 302
    message = outbox.last()
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "evil.example" not in body and "http://blog.test/reset/" in body
    assert link_in(message, "/reset/")


# ---- a real browser: no violations --------------------------------------------------------------------

@pytest.fixture
def live_server(app, make_app):
    served = make_app(WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", served
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || ""));
});
"""


def test_chromium_reports_no_violation_on_pages_with_scripts_json_ld_tables_and_images(live_server, page):
    from blog.services import media

    base, served = live_server
    with served.app_context():  # the served app's MEDIA_ROOT
        author = make_user("author", username="ada")
        image = media.upload(actor=author, stream=io.BytesIO(samples.jpeg(1200, 800)), filename="a.jpg",
                             content_type="image/jpeg", alt_text="A test image")
        table = "| left | centre | right |\n|:--|:-:|--:|\n| 1 | 2 | 3 |"
        post = make_post(author, title="Aligned", featured_image_id=image.id,
                         source=f"{table}\n\n![A test image](media:{image.id})")
        slug, post_id = post.slug, post.id
        db.session.remove()
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_VIOLATIONS)
    page.set_default_timeout(20_000)

    def violations():
        return page.evaluate("window.__violations")

    page.goto(f"{base}/p/{slug}")
    assert page.locator('script[type="application/ld+json"]').count() == 1
    assert page.locator("article td").nth(2).evaluate("td => getComputedStyle(td).textAlign") == "right"
    assert page.locator("article td").nth(1).evaluate("td => getComputedStyle(td).textAlign") == "center"
    img = page.locator("article picture img").first
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert violations() == []

    page.goto(f"{base}/login")
    page.fill("input[name=login]", "ada")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.goto(f"{base}/studio/posts/{post_id}/edit")  # editor.js, with its in-place preview
    with page.expect_response(lambda r: "/studio/preview/" in r.url):
        page.click("button[name=action][value=preview]")
    page.wait_for_timeout(300)
    assert violations() == []
    page.goto(f"{base}/studio/media")  # media.js
    page.wait_for_timeout(300)
    assert violations() == []
    assert not [text for text in console if "Content Security Policy" in text or "Permissions-Policy" in text]

    # The recorder works: an inline script is refused and reported.
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.__ran = 1";
                             document.body.appendChild(s); }""")
    page.wait_for_timeout(100)
    assert page.evaluate("window.__ran") is None
    assert any(v.startswith("script-src") for v in violations())
