"""What search engines and link previews read (canonical URLs, titles, descriptions, OpenGraph, Twitter
cards, JSON-LD), archives by month with counts, and a reading time on every post."""
import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from blog.extensions import db
from blog.models.media import Media
from tests.factories import make_post, make_user, now


class Head(HTMLParser):
    """The parts of a page head and body these tests read."""

    def __init__(self, html):
        super().__init__()
        self.meta, self.links, self.titles, self.json_ld = {}, [], [], []
        self._in = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta":
            key = attrs.get("property") or attrs.get("name")
            if key:
                self.meta.setdefault(key, []).append(attrs.get("content"))
        elif tag == "link":
            self.links.append(attrs)
        elif tag == "title" or (tag == "script" and attrs.get("type") == "application/ld+json"):
            self._in = tag
            self._text = ""

    def handle_data(self, data):
        if self._in:
            self._text += data

    def handle_endtag(self, tag):
        if tag == self._in:
            (self.titles if tag == "title" else self.json_ld).append(self._text)
            self._in = None

    def one(self, key):
        values = self.meta.get(key, [])
        assert len(values) == 1, (key, values)
        return values[0]

    def link(self, rel, type_=None):
        return [l["href"] for l in self.links if l.get("rel") == rel and (type_ is None or l.get("type") == type_)]


def head(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return Head(response.get_data(as_text=True))


@pytest.fixture
def blog(app):
    author = make_user(username="ada", display_name="Ada Lovelace")
    posts = [make_post(author, title=f"Post {i}", tags=["engines"], source="word " * 460) for i in range(12)]
    return author, posts


def test_every_reader_page_has_a_title_description_and_absolute_canonical(client, blog):
    author, posts = blog
    for url in ("/", "/?page=2", f"/p/{posts[0].slug}", "/tag/engines", "/tag/engines?page=2", "/u/ada",
                "/archive", "/archive/{:%Y/%m}".format(posts[0].published_at)):
        page = head(client, url)
        assert len(page.titles) == 1 and page.titles[0].strip(), url
        assert page.one("description").strip(), url
        canonical = page.link("canonical")
        assert len(canonical) == 1 and canonical[0].startswith("http://blog.test/"), (url, canonical)
        assert page.one("og:url") == canonical[0]


def test_pagination_pages_are_not_duplicates_of_page_one(client, blog):
    for base in ("/", "/tag/engines"):
        first, second = head(client, base), head(client, f"{base}?page=2")
        assert first.link("canonical") != second.link("canonical")
        assert second.link("canonical")[0].endswith("page=2")
        assert first.titles != second.titles and "Page 2" in second.titles[0]
        assert first.one("description") != second.one("description")


def test_canonical_ignores_tracking_arguments_and_a_forged_host(client, blog):
    page = head(client, "/tag/engines?utm_source=x&page=1", headers={"Host": "evil.example"})
    assert page.link("canonical") == ["http://blog.test/tag/engines"]


def test_error_pages_are_not_indexed(client, app):
    html = client.get("/p/missing").get_data(as_text=True)
    page = Head(html)
    assert page.one("robots") == "noindex" and page.link("canonical") == []


def test_feeds_are_advertised_in_page_heads(client, blog):
    home = head(client, "/")
    assert home.link("alternate", "application/atom+xml") == ["http://blog.test/feed.atom"]
    tag = head(client, "/tag/engines")
    assert "http://blog.test/tag/engines/feed.atom" in tag.link("alternate", "application/atom+xml")
    profile = head(client, "/u/ada")
    assert "http://blog.test/u/ada/feed.atom" in profile.link("alternate", "application/atom+xml")


def _processed_image(owner):
    entries = {str(w): {"key": f"{owner.id}/img/w{w}.jpg", "width": w, "height": w * 3 // 4} for w in (640, 1600)}
    media = Media(owner_id=owner.id, storage_key=f"{owner.id}/img/original", content_type="image/jpeg",
                  status="ready", width=2000, height=1500, alt_text="A loom", variants={
                      "jpeg": entries,
                      "webp": {k: {**v, "key": v["key"].replace(".jpg", ".webp")} for k, v in entries.items()},
                  })
    db.session.add(media)
    db.session.commit()
    return media


def test_post_pages_carry_opengraph_twitter_and_json_ld(client, app):
    author = make_user(username="ada", display_name="Ada Lovelace")
    picture = _processed_image(author)
    post = make_post(author, title="Notes on the engine", source="Body " * 50, tags=["engines", "maths"],
                     excerpt="What the engine can do.", featured_image_id=picture.id)
    page = head(client, f"/p/{post.slug}")
    assert page.one("og:type") == "article"
    assert page.one("og:title").startswith("Notes on the engine")
    assert page.one("og:description") == "What the engine can do."
    assert page.one("article:published_time") == post.published_at.isoformat()
    assert page.one("article:author") == "http://blog.test/u/ada"
    assert sorted(page.meta["article:tag"]) == ["engines", "maths"]
    image = page.one("og:image")
    assert image.startswith("http") and "w1600.jpg" in image and page.one("og:image:width") == "1600"
    assert page.one("og:image:alt") == "A loom"
    assert page.one("twitter:card") == "summary_large_image" and page.one("twitter:image") == image
    assert len(page.json_ld) == 1
    data = json.loads(page.json_ld[0])
    assert data["@type"] == "BlogPosting" and data["@context"] == "https://schema.org"
    assert data["headline"] == "Notes on the engine" and data["url"] == f"http://blog.test/p/{post.slug}"
    assert data["author"] == {"@type": "Person", "name": "Ada Lovelace", "url": "http://blog.test/u/ada"}
    assert data["datePublished"] == post.published_at.isoformat() and data["image"] == image


def test_json_ld_cannot_break_out_of_its_script(client, app):
    post = make_post(make_user(), title="</script><script>alert(1)</script>", excerpt="<!-- & -->")
    html = client.get(f"/p/{post.slug}").get_data(as_text=True)
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and json.loads(block)["headline"] == "</script><script>alert(1)</script>"


def test_a_post_without_image_gets_a_summary_card(client, app):
    page = head(client, f"/p/{make_post(make_user()).slug}")
    assert page.one("twitter:card") == "summary" and "og:image" not in page.meta


def test_a_draft_seen_by_its_author_is_not_indexed(client, app):
    from tests.factories import login

    author = make_user()
    draft = make_post(author, status="draft")
    login(client, author)
    assert head(client, f"/p/{draft.slug}").one("robots") == "noindex"


def test_reading_time_on_every_post(client, blog):
    author, posts = blog
    html = client.get(f"/p/{posts[0].slug}").get_data(as_text=True)
    assert "2 min read" in html  # 460 words at 230 a minute
    assert client.get("/").get_data(as_text=True).count("2 min read") == 10


# ---- archives -------------------------------------------------------------------------------------

def at(year, month, day=10):
    return datetime(year, month, day, 12, tzinfo=timezone.utc)


@pytest.fixture
def months(app):
    author = make_user(username="ada")
    for day in (1, 15, 30):
        make_post(author, title=f"October {day}", published_at=at(2025, 10, day))
    make_post(author, title="November", published_at=at(2025, 11))
    make_post(author, title="March", published_at=at(2026, 3))
    make_post(author, title="Draft", status="draft", published_at=at(2026, 3))
    make_post(author, title="Scheduled", published_at=now() + timedelta(days=3))
    make_post(author, title="A page", kind="page", published_at=at(2026, 3))


def test_archive_lists_months_with_counts_newest_first(client, months):
    html = client.get("/archive").get_data(as_text=True)
    found = re.findall(r'href="/archive/(\d{4})/(\d{2})">([^<]+)</a>\s*<span class="count">([^<]+)</span>', html)
    assert found == [("2026", "03", "March 2026", "1 post"), ("2025", "11", "November 2025", "1 post"),
                     ("2025", "10", "October 2025", "3 posts")]


def test_a_month_page_lists_its_published_posts(client, months):
    html = client.get("/archive/2025/10").get_data(as_text=True)
    assert "Posts from October 2025" in html
    assert [t for t in ("October 1", "October 15", "October 30", "November") if t in html] == [
        "October 1", "October 15", "October 30"]
    march = client.get("/archive/2026/03").get_data(as_text=True)
    assert "March" in march and "Draft" not in march and "A page" not in march


@pytest.mark.parametrize("url", ["/archive/2024/01", "/archive/2025/13", "/archive/2025/00", "/archive/2025/1",
                                 "/archive/0001/01", "/archive/2025/10?page=2", "/archive/2025/10?page=x"])
def test_empty_impossible_or_malformed_months_are_404(client, months, url):
    assert client.get(url).status_code == 404


def test_month_names_follow_the_reader_language(client, months):
    client.get("/language?locale=es&next=/")
    assert "octubre de 2025" in client.get("/archive").get_data(as_text=True)
