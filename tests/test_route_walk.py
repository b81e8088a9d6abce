"""A walk over ``app.url_map``: every route is classified, every state-changing route needs a CSRF token,
and every route outside the public set refuses anonymous visitors.

Adding a route without adding its endpoint to PUBLIC or SIGNED_IN below fails
``test_every_endpoint_is_classified``: decide who may use it, then list it.
"""
from __future__ import annotations

import pytest
from flask import url_for

from blog.extensions import db
from blog.models.media import Media
from blog.models.post import PostRevision
from tests.factories import login, make_comment, make_post, make_user

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Endpoints anonymous visitors may use, with the reason.
PUBLIC = {
    "public.index": "reader page",
    "public.post": "reader page",
    "public.comments_section": "reader page (the comments part, for no-JS anchors)",
    "public.tag": "reader page",
    "public.author": "reader page",
    "public.archive": "reader page",
    "public.archive_month": "reader page",
    "pages.page": "reader page (static pages)",
    "feeds.site": "Atom feed",
    "feeds.tag": "Atom feed",
    "feeds.author": "Atom feed",
    "feeds.sitemap": "for crawlers",
    "feeds.sitemap_page": "for crawlers",
    "feeds.robots": "for crawlers",
    "search.results": "reader search",
    "i18n.switch": "the footer's language switcher (sets a preference cookie only)",
    "health.healthz": "liveness probe",
    "health.readyz": "readiness probe (names failing services, no secrets)",
    "static": "stylesheets and scripts",
    "media.read": "media through signed, expiring URLs (the signature is the permission)",
    "auth.login": "signing in",
    "auth.login_two_factor": "the second step of signing in (needs the pending sign-in the password step leaves)",
    "auth.register": "signing up",
    "auth.logout": "signing out (POST with a CSRF token; harmless without a session)",
    "auth.reset_request": "asking for a password reset link",
    "auth.reset_password": "using a password reset link (the token is the permission)",
    "auth.confirm": "confirming an address from the emailed link (the token is the permission)",
    "settings.confirm_email_change": "confirming a new address from the emailed link (the token is the permission)",
}

# Endpoints that refuse anonymous visitors: a redirect to sign in, except where noted.
SIGNED_IN = {
    "public.add_comment", "auth.resend_confirmation",
    "settings.profile", "settings.password", "settings.email", "settings.sign_out_everywhere",
    "settings.two_factor", "settings.two_factor_setup", "settings.two_factor_cancel", "settings.two_factor_enable",
    "settings.two_factor_disable", "settings.two_factor_recovery_codes",
    "media.avatar", "media.remove_avatar",
    "studio.home", "studio.posts", "studio.pages", "studio.new", "studio.edit", "studio.preview",
    "studio.unpublish", "studio.archive", "studio.unarchive", "studio.delete", "studio.history",
    "studio.revision", "studio.restore",
    "studio_media.library", "studio_media.upload", "studio_media.start_direct", "studio_media.complete",
    "studio_media.status", "studio_media.alt_text", "studio_media.delete",
    "moderation.queue", "moderation.moderate", "moderation.moderate_one",
    "admin.dashboard", "admin.users", "admin.user", "admin.change_role", "admin.suspend", "admin.reinstate",
    "admin.audit", "admin.jobs", "admin.requeue_job", "admin.delete_job", "admin.flush_outbox",
    "health.metrics",
}
# Refusals other than a redirect to the sign-in page, with the reason.
ANONYMOUS_REFUSAL = {"health.metrics": (404, "exists only for the bearer token Prometheus sends")}

# Routes that take a state-changing method without a CSRF token, with the reason. None, and keep it so.
CSRF_EXEMPT: dict[str, str] = {}


def endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()}


def test_every_endpoint_is_classified(app):
    found = endpoints(app)
    unclassified = found - PUBLIC.keys() - SIGNED_IN
    assert not unclassified, f"add these endpoints to PUBLIC or SIGNED_IN in {__file__}: {sorted(unclassified)}"
    assert not PUBLIC.keys() & SIGNED_IN
    assert not (PUBLIC.keys() | SIGNED_IN) - found, "classified endpoints that no longer exist"
    assert set(ANONYMOUS_REFUSAL) <= SIGNED_IN and set(CSRF_EXEMPT) <= found


@pytest.fixture
def objects(app):
    """Real rows for every URL argument, so a refusal is never just a 404 for a missing object."""
    admin = make_user("admin", username="walker-admin")
    make_user("admin", username="second-admin")
    author = make_user("author", username="walker-author")
    target = make_user("reader", username="walker-target")
    post = make_post(author, title="A walked post", tags=["walking"])
    page = make_post(make_user("editor"), title="About walking", kind="page")
    comment = make_comment(post, target)
    media = Media(owner_id=admin.id, storage_key=f"{admin.id}/walk/original", content_type="image/jpeg",
                  status="ready", width=800, height=600, alt_text="A walk", variants={})
    revision = PostRevision(post_id=post.id, editor_id=author.id, title=post.title, source=post.source)
    db.session.add_all([media, revision])
    db.session.commit()
    revision_id = revision.id
    slugs = {"pages.page": page.slug, "public.tag": "walking", "feeds.tag": "walking"}
    return {
        "admin": admin,
        "values": {
            "post_id": post.id, "revision_id": revision_id, "media_id": media.id, "comment_id": comment.id,
            "user_id": target.id, "username": author.username, "job_id": "no-such-job", "token": "no-such-token",
            "kind": "post", "key": f"{admin.id}/walk/original", "filename": "css/site.css", "page": 1,
            "year": post.published_at.year, "month": post.published_at.month,
        },
        "slugs": slugs, "post_slug": post.slug,
    }


def rule_urls(app, objects, methods: set[str]):
    """(endpoint, method, url) for every rule taking one of ``methods``, with real values for its arguments."""
    found = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            values = {name: objects["values"][name] for name in rule.arguments if name != "slug"}
            if "slug" in rule.arguments:
                values["slug"] = objects["slugs"].get(rule.endpoint, objects["post_slug"])
            url = url_for(rule.endpoint, **values)
            for method in sorted(rule.methods & methods):
                found.append((rule.endpoint, method, url))
    return found


@pytest.fixture
def csrf_app(app, make_app):
    protected = make_app(WTF_CSRF_ENABLED=True)
    calls = []

    # Record every view call: a refusal must come before the view runs, not from the view's own checks.
    def recorder(endpoint, view):
        def recorded(*args, **kwargs):
            calls.append(endpoint)
            return view(*args, **kwargs)
        return recorded

    for endpoint, view in list(protected.view_functions.items()):
        protected.view_functions[endpoint] = recorder(endpoint, view)
    protected.view_calls = calls
    with protected.app_context():
        yield protected


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(csrf_app, objects):
    client = csrf_app.test_client()
    login(client, objects["admin"])
    client.get("/settings/profile")  # the session now holds a real CSRF secret: a wrong token is really wrong
    routes = [(e, m, u) for e, m, u in rule_urls(csrf_app, objects, UNSAFE_METHODS) if e not in CSRF_EXEMPT]
    assert len(routes) >= 30
    csrf_app.view_calls.clear()
    failures = []
    for endpoint, method, url in routes:
        for label, kwargs in [
            ("missing", {"data": {}}),
            ("wrong field", {"data": {"csrf_token": "forged"}}),
            ("wrong header", {"json": {}, "headers": {"X-CSRFToken": "forged"}}),
        ]:
            response = client.open(url, method=method, **kwargs)
            if response.status_code != 400:
                failures.append(f"{method} {url} ({endpoint}), token {label}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert csrf_app.view_calls == [], "views ran without a valid token"


def test_the_walk_would_notice_a_route_that_takes_a_valid_token(csrf_app, objects):
    """The harness itself: with the page's own token, the same request reaches the view."""
    import re

    client = csrf_app.test_client()
    login(client, objects["admin"])
    html = client.get("/settings/profile").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    csrf_app.view_calls.clear()
    response = client.post("/settings/profile", data={"csrf_token": token, "display_name": "Walker"})
    assert response.status_code != 400 and csrf_app.view_calls == ["settings.profile"]


def test_every_route_outside_the_public_set_refuses_anonymous_visitors(client, app, objects):
    failures = []
    routes = rule_urls(app, objects, {"GET", *UNSAFE_METHODS})
    checked = set()
    for endpoint, method, url in routes:
        if endpoint not in SIGNED_IN:
            continue
        checked.add(endpoint)
        response = client.open(url, method=method, data={})
        expected, _reason = ANONYMOUS_REFUSAL.get(endpoint, (302, ""))
        location = response.headers.get("Location", "")
        if response.status_code != expected or (expected == 302 and not location.startswith("/login?next=")):
            failures.append(f"{method} {url} ({endpoint}): {response.status_code} {location}")
    assert checked == SIGNED_IN
    assert not failures, "\n".join(failures)


def test_public_routes_answer_anonymous_visitors_without_error(client, app, objects):
    failures = []
    for endpoint, method, url in rule_urls(app, objects, {"GET"}):
        if endpoint not in PUBLIC:
            continue
        response = client.get(url)
        response.close()
        to_sign_in = response.headers.get("Location", "").startswith("/login")
        if response.status_code >= 500 or (to_sign_in and endpoint != "auth.login_two_factor"):
            failures.append(f"GET {url} ({endpoint}): {response.status_code}")
    assert not failures, "\n".join(failures)
