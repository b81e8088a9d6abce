"""sitemap.xml (with its index past the per-file limit) and robots.txt.

No XSD validation: the sitemaps.org schema cannot be downloaded here, so the structure it defines is
checked directly (namespace, required children, W3C datetimes, absolute URLs, the 50,000 limit).
"""
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from blog.extensions import db
from blog.services import feeds
from tests.factories import make_post, make_user, now
from tests.test_feeds import count_statements

NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
W3C_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$")


def urlset(client, url: str) -> list[tuple[str, str | None]]:
    """``(loc, lastmod)`` of a sitemap, after checking its structure."""
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.get_data().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{NS}urlset"
    found = []
    for child in root:
        assert child.tag == f"{NS}url"
        assert {c.tag for c in child} <= {f"{NS}loc", f"{NS}lastmod", f"{NS}changefreq", f"{NS}priority"}
        locs = child.findall(f"{NS}loc")
        assert len(locs) == 1
        loc = locs[0].text
        assert urlsplit(loc)[:2] == ("http", "blog.test") and len(loc) < 2048
        lastmod = child.findtext(f"{NS}lastmod")
        assert lastmod is None or W3C_DATETIME.match(lastmod), lastmod
        found.append((loc, lastmod))
    assert len(found) <= 50_000
    return found


def locs(client, url: str = "/sitemap.xml") -> list[str]:
    return [loc for loc, _lastmod in urlset(client, url)]


def path(loc: str) -> str:
    return urlsplit(loc).path


def test_sitemap_lists_home_published_posts_pages_tags_and_authors_with_lastmod(client):
    ada = make_user(username="ada")
    editor = make_user("editor", username="ed")
    post = make_post(ada, title="Engines", tags=["Maths"])
    make_post(editor, title="About", kind="page", slug="about")
    found = dict(urlset(client, "/sitemap.xml"))
    assert sorted(path(loc) for loc in found) == sorted(["/", f"/p/{post.slug}", "/about", "/tag/maths", "/u/ada"])
    assert found[f"http://blog.test/p/{post.slug}"] == feeds.w3c_datetime(max(post.updated_at, post.published_at))
    assert all(found.values())
    for loc in found:  # every address it names answers
        assert client.get(path(loc)).status_code == 200, loc


def test_drafts_scheduled_and_archived_never_appear_nor_their_only_tags_and_authors(client):
    ada = make_user(username="ada")
    make_post(ada, title="Draft", status="draft", tags=["draft-only"])
    make_post(ada, title="Scheduled", published_at=now() + timedelta(days=1), tags=["soon"])
    make_post(ada, title="Archived", status="archived", tags=["old"])
    editor = make_user("editor", username="ed")
    make_post(editor, title="Hidden page", kind="page", status="draft", slug="hidden-page")
    make_post(editor, title="Later page", kind="page", slug="later", published_at=now() + timedelta(days=1))
    assert [path(loc) for loc in locs(client)] == ["/"]


def test_suspended_authors_profiles_are_left_out_but_their_posts_stay_like_the_reader_pages(client):
    gone = make_user(username="gone")
    post = make_post(gone, title="Left behind")
    gone.status = "suspended"
    db.session.commit()
    found = [path(loc) for loc in locs(client)]
    assert "/u/gone" not in found
    assert (f"/p/{post.slug}" in found) == (client.get(f"/p/{post.slug}").status_code == 200)


def test_sitemap_becomes_an_index_past_the_limit(client, app, monkeypatch):
    author = make_user(username="ada")
    for i in range(6):
        make_post(author, title=f"Post {i}", tags=[f"t{i % 2}"])
    everything = locs(client)  # home, 6 posts, 2 tags, 1 author
    assert len(everything) == 10
    assert client.get("/sitemap-1.xml").get_data() == client.get("/sitemap.xml").get_data()
    assert client.get("/sitemap-2.xml").status_code == 404

    monkeypatch.setitem(app.config, "SITEMAP_MAX_URLS", 4)
    response = client.get("/sitemap.xml")
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{NS}sitemapindex"
    assert all(child.tag == f"{NS}sitemap" for child in root)
    pages = [child.findtext(f"{NS}loc") for child in root]
    assert pages == [f"http://blog.test/sitemap-{n}.xml" for n in (1, 2, 3)]
    paged = [locs(client, path(page)) for page in pages]
    assert [len(p) for p in paged] == [4, 4, 2]
    assert [loc for page in paged for loc in page] == everything  # the same addresses, each once, in order
    for missing in ("/sitemap-0.xml", "/sitemap-4.xml"):
        assert client.get(missing).status_code == 404


def test_the_module_limit_applies_without_config(client, app, monkeypatch):
    make_post(title="One")
    monkeypatch.setattr(feeds, "SITEMAP_MAX_URLS", 1)
    root = ET.fromstring(client.get("/sitemap.xml").get_data())
    assert root.tag == f"{NS}sitemapindex" and len(root) == 3  # home, the post, its author


def test_sitemap_selects_columns_with_a_fixed_number_of_statements(client, app):
    author = make_user()
    make_post(author, tags=["a"])
    db.session.remove()
    with count_statements() as small:
        client.get("/sitemap.xml")
    author = make_user()
    for i in range(12):
        make_post(author, tags=[f"x{i}"])
    db.session.remove()
    with count_statements() as large:
        client.get("/sitemap.xml")
    assert len(small) == len(large) <= 6  # the counts, then one per kind of address
    assert not any("body_html" in s or "source" in s.split("FROM")[0] for s in large)


def test_static_pages_do_not_take_the_feed_and_sitemap_addresses(client):
    editor = make_user("editor")
    make_post(editor, title="Sitemap", kind="page", slug="sitemap")
    make_post(editor, title="Feed", kind="page", slug="feed")
    make_post(editor, title="Sitemap one", kind="page", slug="sitemap-1")
    assert "Sitemap" in client.get("/sitemap").get_data(as_text=True)
    assert client.get("/feed").status_code == 200
    assert client.get("/sitemap-1").status_code == 200
    assert client.get("/sitemap.xml").mimetype == "application/xml"
    assert client.get("/sitemap-1.xml").mimetype == "application/xml"
    assert client.get("/feed.atom").mimetype == "application/atom+xml"
    assert client.get("/robots.txt").mimetype == "text/plain"


# ---- robots.txt -----------------------------------------------------------------------------------------

def _rules(text: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Disallow:")]


def _blocked(rules: list[str], target: str) -> bool:
    """RFC 9309 matching: ``*`` is any run of characters, a final ``$`` ends the path."""
    for rule in rules:
        pattern = re.escape(rule.rstrip("$")).replace(r"\*", ".*") + ("$" if rule.endswith("$") else "")
        if re.match(pattern, target):
            return True
    return False


def test_robots_txt_points_to_the_sitemap_and_keeps_crawlers_out_of_private_areas(client, app):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == "User-agent: *"
    assert "Sitemap: http://blog.test/sitemap.xml" in text.splitlines()
    rules = _rules(text)
    for target in ("/admin/", "/admin/users", "/studio/", "/studio/posts/1/edit", "/settings/profile", "/login",
                   "/login?next=/p/x", "/register", "/reset", "/reset/abc", "/confirm/abc", "/language?lang=de"):
        assert _blocked(rules, target), target
    for target in ("/", "/p/engines", "/tag/maths", "/u/ada", "/about", "/login-help", "/reset-your-router",
                   "/feed.atom", "/sitemap.xml", "/static/css/site.css"):
        assert not _blocked(rules, target), target
    # Every rule names a real address of the app (so a renamed area cannot leave a stale rule behind).
    prefixes = {rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()}
    for rule in rules:
        stem = rule.rstrip("$?")
        assert any(p == stem or p.startswith(stem) for p in prefixes), rule


@pytest.mark.parametrize("url", ["/sitemap.xml", "/robots.txt"])
def test_sitemap_and_robots_ignore_the_host_header(client, url):
    make_post(title="Anything")
    body = client.get(url, headers={"Host": "evil.example"}).get_data(as_text=True)
    assert "evil.example" not in body and "http://blog.test/" in body
