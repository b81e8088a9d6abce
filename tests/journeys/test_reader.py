"""A reader, on a desktop (1280×800) and on a phone (390×844): home → post → tag → author → search → the
feed link; pagination; switching the language; the reading page's typography and its tables and code on a
small screen."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.journeys.harness import MOBILE

pytestmark = [pytest.mark.postgres_only]

ATOM = "{http://www.w3.org/2005/Atom}"
LONG_PARAGRAPH = (
    "Good typography is mostly invisible: the reader notices the argument, not the letters. A comfortable line "
    "holds somewhere between sixty and seventy-five characters, so the eye can find the start of the next line "
    "without hunting for it, and the paragraph keeps a steady rhythm from the first word to the last one. "
    "Too long a line tires the reader; too short a line breaks every phrase in two and makes the page jumpy. ")
ARTICLE = f"""{LONG_PARAGRAPH * 2}

## A table that is wider than a phone

| Typeface | Designer | Year | Classification | Notes on use in long-form reading on screens |
|:---------|:--------:|-----:|----------------|----------------------------------------------|
| Charter | Matthew Carter | 1987 | Transitional serif | Sturdy at small sizes and on low-resolution displays |
| Georgia | Matthew Carter | 1993 | Transitional serif | Drawn for the screen, with large x-height and open counters |

## Some code

```python
def measure(text: str, width_in_characters: int = 66) -> list[str]:
    return [text[i:i + width_in_characters] for i in range(0, len(text), width_in_characters)]  # a long line of code
```

{LONG_PARAGRAPH}
"""


@pytest.fixture(scope="module")
def library(seed):
    from tests.factories import make_post, make_user

    def content():
        author = make_user("author", username="ada", display_name="Ada Lovelace",
                           bio="Writes about *type* and the printed page.")
        feature = make_post(author, title="The measure of a line", source=ARTICLE, tags=["typography", "reading"])
        for n in range(12):
            make_post(author, title=f"Notes on kerning, part {n + 1}",
                      source=f"Part {n + 1} of a series about spacing letters.\n\n{LONG_PARAGRAPH}",
                      tags=["typography"])
        return {"feature": feature.slug, "author": author.username}

    return seed(content)


def published_posts() -> int:
    """How many posts readers can see now, in the whole (shared) database."""
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from blog.extensions import db
    from blog.models.post import Post
    from blog.services import posts

    now = datetime.now(timezone.utc)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Post).where(posts.visible(now)))


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_reader_browses_searches_and_follows_the_feed(journey, library, seed, device):
    phone = device == "phone"
    page = journey.page(viewport=MOBILE, is_mobile=True, has_touch=True) if phone else journey.page()
    page.goto(journey.url("/"))
    journey.check(page, "home", readme=None if phone else "home", dark=True)
    assert page.locator(".post-list .card").count() == 10

    # Pagination: the older posts, then back. (Other journeys share the database: counts are Ada's own.)
    first_page = page.locator(".card-title").all_inner_texts()
    page.get_by_role("link", name="Older →").click()
    page.wait_for_url("**/?page=2")
    journey.check(page, "home page 2")
    assert "Page 2" in page.title()
    assert not set(page.locator(".card-title").all_inner_texts()) & set(first_page)
    page.get_by_role("link", name="← Newer").click()
    page.wait_for_url(journey.url("/"))

    # A post, its tag, its author.
    page.locator(".post-list").get_by_role("link", name="The measure of a line").click()
    page.wait_for_url(f"**/p/{library['feature']}")
    journey.check(page, "post", readme=None if phone else "post", dark=True)
    assert page.locator("article.post table").count() == 1 and page.locator("article.post pre code").count() == 1
    page.locator(".post-footer").get_by_role("link", name="#reading").click()
    page.wait_for_url("**/tag/reading")
    journey.check(page, "tag")
    assert page.locator(".post-list .card").count() == 1
    page.locator(".post-list .byline").get_by_role("link", name="Ada Lovelace").click()
    page.wait_for_url("**/u/ada")
    journey.check(page, "author")
    assert "type" in page.locator("main").inner_text()
    assert page.locator(".post-list .card").count() == 10
    page.get_by_role("link", name="Older →").click()
    page.wait_for_url("**/u/ada?page=2")
    journey.check(page, "author page 2")
    assert page.locator(".post-list .card").count() == 3

    # Search from the header.
    page.get_by_role("searchbox", name="Search posts").fill("kerning spacing")
    page.get_by_role("searchbox", name="Search posts").press("Enter")
    page.wait_for_url("**/search?q=kerning+spacing")
    journey.check(page, "search")
    assert page.locator("main mark").count() > 0
    assert "Notes on kerning" in page.locator("main").inner_text()

    # The feed the page advertises is a real Atom feed of the latest posts.
    feed_url = page.locator("footer").get_by_role("link", name="Atom feed").get_attribute("href")
    feed = page.request.get(journey.url(feed_url))
    assert feed.status == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(feed.body()).iter(f"{ATOM}entry")]
    assert len(titles) == min(20, seed(published_posts)) and "The measure of a line" in titles


def test_a_reader_switches_the_language(journey, library):
    page = journey.page()
    page.goto(journey.url(f"/p/{library['feature']}"))
    journey.check(page, "post in English")
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_function("document.documentElement.lang === 'es'")
    assert page.url == journey.url(f"/p/{library['feature']}")  # the same page, now in Spanish
    journey.check(page, "post in Spanish")
    assert page.get_by_role("link", name="Inicio").count() == 1
    page.get_by_role("link", name="Inicio").click()
    page.wait_for_url(journey.url("/"))
    journey.check(page, "home in Spanish")
    assert page.get_by_role("link", name="Anteriores →").count() == 1


def test_the_reading_page_on_a_desktop_and_a_phone(journey, library):
    # Desktop: the measure of a paragraph, counted from where the browser really breaks its lines.
    desktop = journey.page()
    desktop.goto(journey.url(f"/p/{library['feature']}"))
    journey.check(desktop, "post on a desktop")
    lines = desktop.evaluate(CHARACTERS_PER_LINE, "article.post .prose p")
    full_lines = lines[:-1]  # the last line of a paragraph is short by nature
    assert len(full_lines) >= 4
    average = sum(full_lines) / len(full_lines)
    assert 60 <= average <= 75 and max(full_lines) <= 80, f"characters per line: {lines}"

    # Phone: nothing makes the page scroll sideways; the table and the code scroll inside themselves.
    phone = journey.page(viewport=MOBILE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto(journey.url(f"/p/{library['feature']}"))
    journey.check(phone, "post on a phone", dark=True)
    widths = phone.evaluate("""() => ({page: document.documentElement.scrollWidth, viewport: window.innerWidth,
        table: [...document.querySelectorAll('article.post table')].map(e => [e.clientWidth, e.scrollWidth,
                getComputedStyle(e).overflowX]),
        code: [...document.querySelectorAll('article.post pre')].map(e => [e.clientWidth, e.scrollWidth,
                getComputedStyle(e).overflowX])})""")
    assert widths["page"] <= widths["viewport"], widths
    for client_width, scroll_width, overflow in widths["table"] + widths["code"]:
        assert client_width <= widths["viewport"] and overflow == "auto", widths
    assert any(scroll > client for client, scroll, _ in widths["table"] + widths["code"]), \
        "the sample's table and code are wider than a phone: they must scroll inside themselves"
    font_size = phone.evaluate("parseFloat(getComputedStyle(document.querySelector('article.post .prose p')).fontSize)")
    assert font_size >= 16
    phone.goto(journey.url("/"))
    journey.check(phone, "home on a phone")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# Characters on each rendered line of the first paragraph matching the selector: one Range per character,
# grouped by the top of its box.
CHARACTERS_PER_LINE = """(selector) => {
  const paragraph = document.querySelector(selector);
  const walker = document.createTreeWalker(paragraph, NodeFilter.SHOW_TEXT);
  const counts = new Map();
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      range.setStart(node, i); range.setEnd(node, i + 1);
      const box = range.getClientRects()[0];
      if (!box) continue;
      const top = Math.round(box.top);
      counts.set(top, (counts.get(top) || 0) + 1);
    }
  }
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(e => e[1]);
}"""
