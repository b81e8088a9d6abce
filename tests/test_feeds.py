"""Atom feeds: the site's, each tag's and each author's, parsed by a real feed parser (feedparser) and
checked against the structure RFC 4287 requires, plus conditional GET."""
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import feedparser
import pytest
import sqlalchemy as sa

from blog import sanitize
from blog.extensions import db
from blog.models.media import Media
from blog.models.user import User
from blog.services import feeds
from tests.factories import make_post, make_user, now
from tests.support import count_statements

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def check_atom(body: bytes, self_url: str) -> ET.Element:
    """The RFC 4287 rules a validator checks: required elements once each, RFC 3339 dates, absolute links."""
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"

    def one(parent, name):
        found = parent.findall(f"{ATOM}{name}")
        assert len(found) == 1, f"{name}: {len(found)}"
        return found[0]

    for name in ("id", "title", "updated"):
        assert one(root, name).text
    assert RFC3339.match(one(root, "updated").text)
    links = {link.get("rel"): link for link in root.findall(f"{ATOM}link")}
    assert links["self"].get("href") == self_url
    assert links["self"].get("type") == "application/atom+xml"
    assert links["alternate"].get("type") == "text/html"
    assert one(one(root, "author"), "name").text
    ids = set()
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated", "published", "content"):
            assert one(entry, name).text, name
        for name in ("updated", "published"):
            assert RFC3339.match(one(entry, name).text)
        assert one(entry, "content").get("type") == "html"
        assert one(one(entry, "author"), "name").text
        assert [link.get("rel") for link in entry.findall(f"{ATOM}link")] == ["alternate"]
        ids.add(one(entry, "id").text)
    assert len(ids) == len(root.findall(f"{ATOM}entry")), "entry ids must be unique"
    for element in root.iter():
        if element.get("href"):
            assert urlsplit(element.get("href"))[:2] == ("http", "blog.test"), element.get("href")
        if element.tag in (f"{ATOM}uri",):
            assert element.text.startswith("http://blog.test/")
    return root


def parse(client, url, self_url=None, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/atom+xml"
    body = response.get_data()
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    check_atom(body, self_url or f"http://blog.test{url}")
    return parsed


def titles(parsed) -> list[str]:
    return [entry.title for entry in parsed.entries]


def test_site_feed_is_valid_atom_with_absolute_urls(client):
    ada = make_user(username="ada", display_name="Ada Lovelace")
    post = make_post(ada, title="Engines", source="Read [the notes](/p/notes) and [more](#more).",
                     tags=["Maths", "History"], excerpt="About engines.")
    parsed = parse(client, "/feed.atom")
    assert parsed.feed.title == "Blog"
    assert parsed.feed.subtitle == "Writing from our authors"
    assert parsed.feed.id == "http://blog.test/"
    assert parsed.feed.link == "http://blog.test/"
    assert parsed.feed.language == "en"
    entry = parsed.entries[0]
    assert entry.title == "Engines"
    assert entry.link == f"http://blog.test/p/{post.slug}"
    assert entry.id.startswith("tag:blog.test,")
    assert entry.author == "Ada Lovelace"
    assert entry.author_detail.href == "http://blog.test/u/ada"
    assert entry.summary == "About engines."
    assert entry.published_parsed and entry.updated_parsed
    assert sorted(tag.term for tag in entry.tags) == ["history", "maths"]
    assert sorted(tag.label for tag in entry.tags) == ["History", "Maths"]
    content = entry.content[0]
    assert content.type == "text/html"
    assert 'href="http://blog.test/p/notes"' in content.value
    assert f'href="http://blog.test/p/{post.slug}#more"' in content.value


def test_feed_urls_come_from_base_url_never_from_the_host_header(client):
    post = make_post(title="Forged")
    parsed = parse(client, "/feed.atom", headers={"Host": "evil.example"})
    assert parsed.entries[0].link == f"http://blog.test/p/{post.slug}"
    assert all("evil.example" not in link.href for link in parsed.feed.links)


def test_site_feed_holds_the_latest_twenty_published_posts_newest_first(client):
    author = make_user()
    for i in range(23):
        make_post(author, title=f"Post {i:02d}", published_at=now() - timedelta(hours=i))
    parsed = parse(client, "/feed.atom")
    assert titles(parsed) == [f"Post {i:02d}" for i in range(20)]


def test_drafts_scheduled_archived_posts_and_pages_never_appear(client):
    ada = make_user(username="ada")
    editor = make_user("editor")
    make_post(ada, title="Visible", tags=["t"])
    make_post(ada, title="Draft", status="draft", tags=["t"])
    make_post(ada, title="Scheduled", published_at=now() + timedelta(days=1), tags=["t"])
    make_post(ada, title="Archived", status="archived", tags=["t"])
    make_post(editor, title="About us", kind="page")
    for url in ("/feed.atom", "/tag/t/feed.atom", "/u/ada/feed.atom"):
        assert titles(parse(client, url)) == ["Visible"], url


def test_tag_and_author_feeds_list_only_their_posts(client):
    ada = make_user(username="ada", display_name="Ada Lovelace")
    grace = make_user(username="grace")
    make_post(ada, title="Ada on engines", tags=["Engines"])
    make_post(grace, title="Grace on engines", tags=["Engines"])
    make_post(ada, title="Ada on looms", tags=["Looms"])
    tag = parse(client, "/tag/engines/feed.atom")
    assert sorted(titles(tag)) == ["Ada on engines", "Grace on engines"]
    assert tag.feed.title == "Blog: posts tagged “Engines”"
    assert tag.feed.link == "http://blog.test/tag/engines"
    # Usernames are case-insensitive; the feed names its own canonical URL.
    author = parse(client, "/u/ADA/feed.atom", self_url="http://blog.test/u/ada/feed.atom")
    assert sorted(titles(author)) == ["Ada on engines", "Ada on looms"]
    assert author.feed.title == "Blog: posts by Ada Lovelace"
    assert author.feed.author_detail.href == "http://blog.test/u/ada"
    links = {link.rel: link.href for link in author.feed.links}
    assert links == {"self": "http://blog.test/u/ada/feed.atom", "alternate": "http://blog.test/u/ada"}


def test_unknown_tags_and_authors_are_404_and_a_tag_without_posts_is_an_empty_feed(client):
    make_post(title="Draft only", status="draft", tags=["Quiet"])
    assert client.get("/tag/nothing/feed.atom").status_code == 404
    assert client.get("/u/nobody/feed.atom").status_code == 404
    parsed = parse(client, "/tag/quiet/feed.atom")
    assert parsed.entries == []


def test_suspended_authors_follow_the_reader_pages(client):
    """Their profile is a 404, so is their feed; their posts stay listed on the home page and in the site
    feed, exactly as the reader pages show them."""
    gone = make_user(username="gone")
    make_post(gone, title="Left behind")
    gone.status = "suspended"
    db.session.commit()
    assert client.get("/u/gone").status_code == 404
    assert client.get("/u/gone/feed.atom").status_code == 404
    home = client.get("/").get_data(as_text=True)
    site = parse(client, "/feed.atom")
    assert ("Left behind" in home) == ("Left behind" in titles(site))
    if site.entries:
        assert "href" not in site.entries[0].author_detail  # no link to a profile that is a 404


def test_entry_content_is_the_sanitized_html_with_images_as_links_to_the_post(client):
    author = make_user()
    media = Media(owner_id=author.id, storage_key=f"{author.id}/img/original", content_type="image/jpeg",
                  status="ready", width=800, height=600, alt_text="A loom from the library",
                  variants={"jpeg": {"640": {"key": f"{author.id}/img/w640.jpg", "width": 640, "height": 480}},
                            "webp": {"640": {"key": f"{author.id}/img/w640.webp", "width": 640, "height": 480}}})
    db.session.add(media)
    db.session.commit()
    source = (f"Hello <script>alert(1)</script><img src=x onerror=alert(2)> **bold**\n\n"
              f"![A cat](media:{media.id}) ![](media:{media.id}) ![gone](media:999999)\n\n"
              "![external](https://img.example.org/a.png) <a href=\"javascript:alert(3)\">js</a>")
    post = make_post(author, title="Pictures", source=source)
    value = parse(client, "/feed.atom").entries[0].content[0].value
    assert "<strong>bold</strong>" in value
    for bad in ("<script", "alert(1)", "onerror", "javascript:"):
        assert bad not in value
    url = f"http://blog.test/p/{post.slug}"
    assert f'<a href="{url}">Image: A cat</a>' in value
    assert f'<a href="{url}">Image: A loom from the library</a>' in value  # alt text from the library
    assert f'<a href="{url}">Image: gone</a>' in value
    assert "media:" not in value and "/media/" not in value and "signature=" not in value
    assert 'src="https://img.example.org/a.png"' in value


def test_feeds_survive_text_xml_cannot_carry(client):
    make_post(title="Bell \x07 and form feed \x0c", source="Body", tags=["Odd"])
    parsed = parse(client, "/feed.atom")
    assert parsed.entries[0].title == "Bell  and form feed"


def test_titles_and_names_are_escaped_as_text(client):
    ada = make_user(username="ada", display_name='Ada <b>"&"</b>')
    make_post(ada, title='<img src=x onerror="alert(1)"> & more', tags=["<b>t</b>"])
    parsed = parse(client, "/feed.atom")
    assert parsed.entries[0].title == '<img src=x onerror="alert(1)"> & more'
    assert parsed.entries[0].author == 'Ada <b>"&"</b>'


def test_entry_ids_do_not_change_with_the_slug(client):
    post = make_post(title="First title")
    before = parse(client, "/feed.atom").entries[0]
    post.slug = "a-new-address"
    db.session.commit()
    after = parse(client, "/feed.atom").entries[0]
    assert after.id == before.id
    assert after.link == "http://blog.test/p/a-new-address"


def test_rows_from_an_older_sanitizer_are_rendered_afresh_without_a_write(client):
    post = make_post(title="Old", source="Fresh *text*")
    db.session.execute(sa.update(type(post)).where(type(post).id == post.id).values(
        body_html="<p>stale</p><script>x</script>", sanitizer_version=sanitize.VERSION - 1))
    db.session.commit()
    value = parse(client, "/feed.atom").entries[0].content[0].value
    assert "<em>text</em>" in value and "stale" not in value
    db.session.refresh(post)
    assert post.sanitizer_version == sanitize.VERSION - 1


def test_feeds_are_written_in_the_site_language_for_every_visitor(client):
    make_post(title="Tagged", tags=["Engines"])
    english = client.get("/tag/engines/feed.atom")
    german = client.get("/tag/engines/feed.atom", headers={"Accept-Language": "de"})
    assert german.get_data() == english.get_data()
    assert german.headers["ETag"] == english.headers["ETag"]
    assert "Accept-Language" not in german.headers.get("Vary", "")


# ---- conditional GET ------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/feed.atom", "/tag/engines/feed.atom", "/u/ada/feed.atom"])
def test_conditional_get_answers_304_until_something_is_published(client, url):
    ada = make_user(username="ada")
    make_post(ada, title="First", tags=["Engines"], published_at=now() - timedelta(days=1))
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('W/"')
    assert first.headers["Cache-Control"] in ("public, max-age=300", "max-age=300, public")

    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.head(url, headers={"If-None-Match": etag}).status_code == 304

    make_post(ada, title="Second", tags=["Engines"])
    changed = client.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "Second" in titles(feedparser.parse(changed.get_data()))


def test_etag_changes_when_a_post_is_edited_unpublished_or_its_author_renamed(client):
    ada = make_user(username="ada", display_name="Ada")
    post = make_post(ada, title="One")
    make_post(ada, title="Two")
    seen = {client.get("/feed.atom").headers["ETag"]}
    post.title = "One, edited"
    db.session.commit()
    seen.add(client.get("/feed.atom").headers["ETag"])
    ada.display_name = "Ada Lovelace"
    db.session.commit()
    seen.add(client.get("/feed.atom").headers["ETag"])
    post.status = "draft"
    db.session.commit()
    seen.add(client.get("/feed.atom").headers["ETag"])
    assert len(seen) == 4


def test_a_scheduled_post_changes_the_version_when_its_time_comes(app):
    make_post(title="Out now")
    make_post(title="Later", published_at=now() + timedelta(hours=1))
    before = feeds.site_feed().version()
    after = feeds.site_feed(now=now() + timedelta(hours=2)).version()
    assert before.etag != after.etag
    assert after.last_modified > before.last_modified


def test_an_empty_site_feed_is_valid(client):
    parsed = parse(client, "/feed.atom")
    assert parsed.entries == []
    assert client.get("/feed.atom").headers["Last-Modified"]


# ---- queries --------------------------------------------------------------------------------------------

def _statements(client, url) -> int:
    db.session.remove()
    with count_statements() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_feeds_issue_a_fixed_number_of_statements(client):
    ada = make_user(username="ada")
    make_post(ada, tags=["common", "a"])
    ada_id = ada.id
    urls = ("/feed.atom", "/tag/common/feed.atom", "/u/ada/feed.atom")
    small = [_statements(client, url) for url in urls]
    ada = db.session.get(User, ada_id)
    for i in range(15):
        make_post(make_user(), tags=["common", f"x{i}", f"y{i}"])
        make_post(ada, tags=["common", f"z{i}"])
    assert [_statements(client, url) for url in urls] == small
    assert max(small) <= 4  # (the lookup,) the version, the posts with authors, their tags
