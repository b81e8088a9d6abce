"""Pagination, sort and filter parameters on every listing: allowlisted, never a 500, never SQL text.

Each listing's parameters get malformed, hostile and out-of-range values. The answer is the page with a
default applied (an unknown filter is not applied), or 404 (an impossible page, or a hand-made studio
filter), or 400 — never a 500. While they run, every SQL statement the app sends is captured: the query
string's text never appears in one, because values only ever travel as bound parameters.
"""
from __future__ import annotations

import pytest

from blog.extensions import db
from blog.models.media import Media
from tests.factories import login, make_comment, make_post, make_user
from tests.support import count_statements

MARKER = "zqx7"  # unlikely in any SQL the app writes itself
HOSTILE_TEXT = [
    f"{MARKER}; DROP TABLE users; --",
    f"{MARKER}' OR '1'='1",
    f'{MARKER}" OR "1"="1',
    f"{MARKER}) UNION SELECT password_hash FROM users --",
    f"{MARKER}%_\\",
    f"title; DROP TABLE users {MARKER}",
    f"{MARKER}" * 200,
]
BAD_PAGES = ["0", "-1", "abc", "1.5", "1e3", "0x10", "99999999", "9" * 30, "１", "²", " 1", "1 ", "",
             "1; DROP TABLE users", "%00", "1\x00"]

# path: the query parameters it reads besides ``page``
LISTINGS = {
    "/": [],
    "/tag/walking": [],
    "/u/walker": [],
    "/archive": [],
    "/archive/{year}/{month:02d}": [],
    "/search": ["q"],
    "/studio/posts": ["scope", "state", "author", "tag", "q", "sort"],
    "/studio/pages": ["scope", "state", "author", "tag", "q", "sort"],
    "/studio/comments/": ["status"],
    "/studio/media": ["scope"],
    "/admin/users": ["q", "role", "status"],
    "/admin/audit": [],
    "/admin/jobs": [],
}
ALLOWED = {200, 400, 404}
NOT_PAGED = {"/archive", "/admin/jobs"}  # one page each: ``page`` is not read at all


@pytest.fixture
def site(client, app):
    """Something on every listing, and an admin signed in (admins see every listing)."""
    walker = make_user("author", username="walker")
    admin = make_user("admin", username="lister")
    for n in range(3):
        post = make_post(walker, title=f"Walk number {n}", tags=["walking"], source=f"A walk by the sea, {n}.")
    make_post(make_user("editor"), title="About", kind="page")
    make_comment(post, status="pending")
    db.session.add(Media(owner_id=admin.id, storage_key=f"{admin.id}/q/original", content_type="image/jpeg",
                         status="ready", width=10, height=10, alt_text="", variants={}))
    db.session.commit()
    login(client, admin)
    return {"year": post.published_at.year, "month": post.published_at.month}


def url(path: str, site) -> str:
    return path.format(**site)


@pytest.mark.parametrize("path", LISTINGS)
def test_listings_answer_with_good_parameters(client, site, path):
    response = client.get(url(path, site))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("path", LISTINGS)
def test_bad_page_numbers_are_404_never_500(client, site, path):
    failures = []
    for value in BAD_PAGES:
        response = client.get(url(path, site), query_string={"page": value})
        expected = {200} if path in NOT_PAGED else {400, 404}
        if response.status_code not in expected:
            failures.append(f"page={value!r}: {response.status_code}")
    assert not failures, failures


def test_out_of_range_pages_are_404(client, site):
    assert client.get("/", query_string={"page": "2"}).status_code == 404
    assert client.get("/sitemap-99999.xml").status_code == 404
    assert client.get("/sitemap-0.xml").status_code == 404


@pytest.mark.parametrize("path", [p for p, params in LISTINGS.items() if params])
def test_hostile_filter_and_sort_values_never_reach_sql_text(client, site, path):
    failures = []
    for value in HOSTILE_TEXT:
        for name in LISTINGS[path]:
            with count_statements() as statements:
                response = client.get(url(path, site), query_string={name: value})
            if response.status_code not in ALLOWED:
                failures.append(f"{name}={value[:40]!r}: {response.status_code}")
            leaked = [s for s in statements if MARKER in s]
            if leaked:
                failures.append(f"{name}={value[:40]!r} reached SQL text: {leaked[0][:200]}")
        # All parameters at once, as a hand-made URL would carry them.
        with count_statements() as statements:
            response = client.get(url(path, site), query_string={name: value for name in LISTINGS[path]})
        if response.status_code not in ALLOWED or any(MARKER in s for s in statements):
            failures.append(f"all={value[:40]!r}: {response.status_code}")
    assert not failures, failures


# Free-text filters that hand a NUL character to PostgreSQL, which refuses it in text: a 500 there. Forms
# already turn NUL into U+FFFD (blog/views/forms.py); query values need the same at the edge.
NUL_CASES = [(path, name) for path, params in LISTINGS.items() for name in params]


@pytest.mark.parametrize("path, name", NUL_CASES)
def test_nul_in_a_query_value_is_not_a_500(client, site, path, name):
    response = client.get(url(path, site), query_string={name: f"{MARKER}\x00"})
    assert response.status_code in ALLOWED


def test_the_capture_sees_bound_values_used_in_queries(client, site):
    """The check above is not vacuous: searching for MARKER runs SQL, with MARKER bound, not written."""
    with count_statements() as statements:
        response = client.get("/admin/users", query_string={"q": MARKER})
    assert response.status_code == 200 and statements
    assert not any(MARKER in s for s in statements)


@pytest.mark.parametrize("path, params, expect", [
    # Filters from links elsewhere: an unknown value is simply not applied.
    ("/admin/users", {"role": "superuser"}, 200),
    ("/admin/users", {"status": "'; DROP"}, 200),
    ("/studio/comments/", {"status": "everything"}, 200),
    # Studio filters only come from its own form: a hand-made value is a 404.
    ("/studio/posts", {"sort": "title; DROP TABLE users"}, 404),
    ("/studio/posts", {"sort": "id"}, 404),
    ("/studio/posts", {"state": "deleted"}, 404),
    ("/studio/posts", {"scope": "everyone"}, 404),
    ("/studio/media", {"scope": "everyone"}, 404),
    # Free text is searched for, as text.
    ("/studio/posts", {"q": "%"}, 200),
    ("/studio/posts", {"author": "nobody", "tag": "no-such-tag"}, 200),
    ("/search", {"q": "\"unclosed -"}, 200),
    ("/search", {"q": "NEAR(a b) OR * AND ^"}, 200),
])
def test_each_kind_of_parameter(client, site, path, params, expect):
    assert client.get(path, query_string=params).status_code == expect


def main(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main"):html.index("</main>")]


def test_unknown_filters_fall_back_to_the_default(client, site):
    assert main(client.get("/studio/comments/", query_string={"status": "everything"})) == \
        main(client.get("/studio/comments/"))
    assert main(client.get("/admin/users", query_string={"role": "superuser", "status": "gone"})) == \
        main(client.get("/admin/users"))
