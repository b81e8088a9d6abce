"""Every redirect to a target the visitor chose stays on this site.

User-given targets reach a redirect in these places, all through ``blog.views.common.safe_next``:
- ``/login`` (the ``next`` field, filled from ``?next=`` and from "Sign in to comment" links); the second
  step of two-factor sign-in hands the same ``next`` to the same function;
- ``/language?next=`` (the footer's switcher);
- ``/confirm/resend`` (the ``next`` field of the "send the link again" banner).
Query values that other redirects carry along (the media library's ``scope`` and ``page``, the moderation
tab) only ever become query arguments of a fixed path; the last test checks that too.

The Location is read the way a browser reads it: tabs and newlines are dropped, backslashes count as
slashes, and the result is resolved against the page's address.
"""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest

from blog.views.common import safe_next
from tests.factories import PASSWORD, login, make_comment, make_post, make_user

SITE = "http://blog.test/"
HOSTILE = [
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "http://evil.example",
    "HTTPS://evil.example/p/1",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2Fevil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "%2F%5Cevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ok\r\nSet-Cookie: planted=1",
    "/ok%0d%0aSet-Cookie:%20planted=1",
    "%0d%0aLocation:%20http://evil.example",
    "/..//evil.example",
    "/../\\evil.example",
    "/.%2F/evil.example",
    "evil.example",
    "@evil.example",
    "/%00//evil.example",
    "/%2e%2e//evil.example",
    "/x/%2E%2E/%2E%2E//evil.example",
    "\u3000//evil.example",
    "／／evil.example",
]
# Raw NUL never reaches a view (form and query values have it replaced), so only safe_next itself sees it.
RAW_ONLY = ["/\x00//evil.example", "/\x7f//evil.example"]
SAME_SITE = ["/", "/p/some-post", "/settings/profile?tab=1", "/search?q=a%20b&page=2", "/p/some-post#comments",
             "/%252F%252Fevil.example"]  # double-encoded: a harmless path on this site


def browser_target(location: str) -> tuple[str, str]:
    """(scheme, host) a browser would go to for this Location on a page of SITE."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").strip("\x00 ").replace("\\", "/")
    parts = urlsplit(urljoin(SITE, cleaned))
    return parts.scheme, parts.netloc


def assert_stays_on_site(response) -> None:
    assert response.status_code in (302, 303), response.status_code
    location = response.headers["Location"]
    assert not any(ord(ch) < 32 for ch in location), repr(location)
    assert browser_target(location) == ("http", "blog.test"), repr(location)
    assert "planted" not in " ".join(response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("target", HOSTILE + RAW_ONLY)
def test_safe_next_refuses(target):
    assert safe_next(target, "/fallback") == "/fallback"


@pytest.mark.parametrize("target", SAME_SITE)
def test_safe_next_keeps_paths_on_this_site(target):
    assert safe_next(target, "/fallback") == target


@pytest.mark.parametrize("target", HOSTILE)
def test_sign_in(client, target):
    make_user(username="ada")
    response = client.post("/login", data={"login": "ada", "password": PASSWORD, "next": target})
    assert_stays_on_site(response)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", HOSTILE)
def test_sign_in_from_a_next_query_argument(client, target):
    """The page carries ``?next=`` into its hidden field; whatever it holds is checked when used."""
    make_user(username="ada")
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = client.post("/login", data={"login": "ada", "password": PASSWORD, "next": target})
    assert_stays_on_site(response)


@pytest.mark.parametrize("target", HOSTILE)
def test_language_switcher(client, target):
    response = client.get("/language", query_string={"locale": "de", "next": target})
    assert_stays_on_site(response)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", HOSTILE)
def test_resend_confirmation(client, target):
    login(client, make_user(username="unsure", email_confirmed_at=None))
    response = client.post("/confirm/resend", data={"next": target})
    assert_stays_on_site(response)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", SAME_SITE)
def test_same_site_targets_are_kept(client, target):
    make_user(username="ada")
    assert client.get("/language", query_string={"locale": "fr", "next": target}).headers["Location"] == target
    response = client.post("/login", data={"login": "ada", "password": PASSWORD, "next": target})
    assert response.headers["Location"] == target


def test_sign_in_to_comment_comes_back_to_the_post(client):
    post = make_post(make_user("author"), title="Come back here")
    make_user(username="ada")
    html = client.get(f"/p/{post.slug}").get_data(as_text=True)
    assert f'href="/login?next=/p/{post.slug}"' in html or f'href="/login?next=%2Fp%2F{post.slug}"' in html
    response = client.post("/login", data={"login": "ada", "password": PASSWORD, "next": f"/p/{post.slug}"})
    assert response.headers["Location"] == f"/p/{post.slug}"


@pytest.mark.parametrize("value", ["//evil.example", "https://evil.example", "/\\evil.example", "%0d%0aX: 1"])
def test_query_values_carried_into_redirects_stay_query_values(client, value):
    author = make_user("editor")
    post = make_post(author)
    comment = make_comment(post, status="pending")
    login(client, author)
    media_back = client.post("/studio/media", query_string={"scope": value, "page": value}, data={})
    assert_stays_on_site(media_back)
    assert media_back.headers["Location"].startswith("/studio/media?")
    moderated = client.post(f"/studio/comments/{comment.id}/moderate", data={"action": "approve", "status": value})
    assert_stays_on_site(moderated)
    assert moderated.headers["Location"] == "/studio/comments/?status=pending"
