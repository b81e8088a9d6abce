"""The XSS corpus (``tests/xss_vectors.py``) against the sanitizer and, through the real forms with CSRF on,
against every page, feed and email that shows what users write.

Three layers:

- the checker itself: it must see the raw vectors that do run in a browser, or a clean result means nothing;
- each vector alone through :func:`blog.sanitize.render_markdown` (post and comment allowlists): fast, and
  no vector can hide behind another;
- per category, the vectors typed into the forms a browser would post (registration and sign-in, profile,
  media upload, the studio editor for posts and pages, comments, moderation), each form's CSRF token taken
  from the page that shows it; then the pages (reader, studio, moderation and admin pages), Atom feeds and
  emails that show them, parsed by html5lib and checked by :func:`tests.xss_vectors.find_executable`.

One post per vector (title, body and a tag name made from it), written in turn by an author, an editor
and an admin: one sanitizer policy whatever the role, so every stored body must equal the plain rendering
of its source. A post whose sanitized body keeps an ``<img>`` without alt text cannot be published (the
publish rule asks for alt text): it is saved through the form and then marked published directly, so the
reader surfaces show what the form stored. Bios and page bodies hold the vectors in batches
(:func:`tests.xss_vectors.batches`). Alt texts, file names, email notifications, tag pages and search
queries use the first vectors of each category (the ``*_SAMPLE`` constants), to keep the run short.
"""
from __future__ import annotations

import base64
import html
import io
import re
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from markupsafe import escape

from blog import sanitize
from blog.extensions import db
from blog.models.comment import Comment
from blog.models.media import Media
from blog.models.post import Post
from blog.services import feeds as feed_service
from tests import xss_vectors as X
from tests.factories import PASSWORD, make_user, now

CATEGORIES = list(X.VECTORS)
INTERNAL_HOSTS = ("blog.test",)  # what tests/conftest.py configures
ALT_SAMPLE = 6  # per category: vectors that are also an upload's alt text and file name (2 per writer)
EMAIL_SAMPLE = 8  # per category: posts whose comment waits for moderation (an email each way)
TAG_SAMPLE = 6  # per category: tag pages fetched one by one (every tag name also shows on its post's page)
SEARCH_SAMPLE = 8  # per category: vectors sent as the search query (all of them for "breakouts")
EDIT_SAMPLE = 5  # per category: editor pages fetched for saved posts (every refused publish shows one too)
BIO_MAX = 4500  # characters of a bio batch (the form allows 5000)


# ---- the checker and the corpus ----------------------------------------------------------------------

def test_the_corpus_is_large_distinct_and_grouped():
    assert len(X.ALL) >= 300
    assert sum(len(group) for group in X.VECTORS.values()) == len(X.ALL), "a vector is listed twice"
    assert all(len(group) >= 25 for group in X.VECTORS.values())


def _decoded(vector: str) -> str:
    """The vector with the encodings it hides behind undone, to see which payload it carries."""
    text = vector
    for _ in range(3):
        text = html.unescape(urllib.parse.unquote(text))
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)
    for chunk in re.findall(r"[A-Za-z0-9+/]{8,}={0,2}", vector):
        try:
            text += " " + base64.b64decode(chunk + "=" * (-len(chunk) % 4)).decode("utf-8", "ignore")
        except ValueError:
            pass
    return text.replace("'+'", "").replace("/.source+/", "").replace("\u0435", "e").lower()


def test_every_vector_carries_a_payload_the_browser_test_can_see():
    missing = [v for v in X.ALL if not any(p in _decoded(v) for p in X.PAYLOADS)]
    assert missing == []


# Raw vectors a browser does run: the checker has to flag each of them.
KNOWN_EXECUTABLE = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>', '<a href="&#x20;javascript:alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>', '<a href="java\nscript:alert(1)">x</a>',
    f'<a href="data:text/html;base64,{X._SCRIPT_B64}">x</a>', '<iframe srcdoc="<script>alert(1)</script>">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', '<base href="javascript:alert(1)//">',
    '<div style="x:\\65xpression(alert(1))">x</div>', '<div style="background:u\\72l(javascript:alert(1))">x</div>',
    '<form><button formaction="javascript:alert(1)">go</button></form>', "<details open ontoggle=alert(1)>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<img src="data:image/svg+xml;base64,PHN2Zz4=">', '<script type="application/ld+json">{"a": </script>',
    '<link rel="import" href="/x">', "<object data=x></object>", '<img src=x srcset="javascript:alert(1) 1x">',
]
HARMLESS = [
    "<p>Hello <em>world</em> &lt;script&gt;alert(1)&lt;/script&gt;</p>", '<a href="https://example.org/">x</a>',
    '<img src="/media/x.jpg" alt="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">',
    '<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7" alt="">',
    '<table><tr><td style="text-align:right;">1</td></tr></table>', '<a href="/search?q=javascript:alert(1)">x</a>',
    '<pre><code class="language-html">&lt;svg onload=alert(1)&gt;</code></pre>',
]


@pytest.mark.parametrize("markup", KNOWN_EXECUTABLE)
def test_the_checker_flags_what_runs(markup):
    assert X.find_executable(f'<div class="prose">{markup}</div>'), markup


@pytest.mark.parametrize("markup", HARMLESS)
def test_the_checker_passes_what_cannot_run(markup):
    assert X.find_executable(f'<div class="prose">{markup}</div>') == []


def test_the_checker_sees_most_raw_vectors():
    """Most vectors are executable as written (the Markdown ones and the text breakouts are not):
    a checker that passed them all would prove nothing."""
    flagged = [v for v in X.ALL if X.find_executable(f'<div class="prose">{v}</div>')]
    assert len(flagged) >= 0.7 * len(X.ALL)


def test_the_feed_checker_reads_html_content_as_html_and_text_as_text():
    atom = ('<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="text">&lt;script&gt;alert(1)&lt;/script&gt;'
            '</title><summary>&lt;b&gt;</summary><content type="html">&lt;img src=x onerror=alert(1)&gt;</content>'
            '</entry><entry><title type="html">&lt;svg onload=alert(1)&gt;</title>'
            '<link href="javascript:alert(1)"/><content type="xhtml"><div/></content></entry></feed>')
    found = X.feed_findings(atom)
    assert [f.split(":")[0] for f in found] == ["content", "title", "title", "link", "content"], found
    assert X.feed_findings(atom.replace("onerror", "title").replace("onload", "title").replace(
        "javascript:", "https:").replace(' type="xhtml"', "").replace('type="html">&lt;svg', 'type="html">&lt;b')) == []


# ---- each vector alone, through the sanitizer ----------------------------------------------------------

@pytest.mark.parametrize("category", CATEGORIES)
def test_each_vector_alone_renders_to_nothing_executable(category):
    problems = []
    for vector in X.VECTORS[category]:
        for comment in (False, True):
            rendered = sanitize.render_markdown(vector, comment=comment, internal_hosts=INTERNAL_HOSTS).html
            for finding in X.find_executable(f'<div class="prose">{rendered}</div>'):
                problems.append(f"{vector!r} ({'comment' if comment else 'post'}) -> {rendered!r}: {finding}")
    assert problems == []


# The form of a start tag in the sanitizer's output that the code reading stored HTML with patterns relies on
# (blog/services/feeds.py, blog/services/media_display.py): double-quoted values without a raw quote inside.
_SERIALIZED_START_TAG = re.compile(r'<[a-zA-Z][a-zA-Z0-9]*(?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*\s*/?>')


@pytest.mark.parametrize("category", CATEGORIES)
def test_sanitized_tags_are_in_the_form_stored_html_readers_expect(category):
    odd = []
    for vector in X.VECTORS[category]:
        rendered = sanitize.render_markdown(vector, internal_hosts=INTERNAL_HOSTS).html
        odd += [(vector, rendered) for start in re.finditer(r"<[a-zA-Z]", rendered)
                if not _SERIALIZED_START_TAG.match(rendered, start.start())]
    assert odd == []


@pytest.mark.parametrize("category", CATEGORIES)
def test_batches_render_to_nothing_executable(category):
    """Vectors side by side (as bios and pages hold them) cannot combine into something that runs."""
    for batch in X.batches(X.VECTORS[category], max_chars=BIO_MAX):
        rendered = sanitize.render_markdown("\n\n".join(batch), internal_hosts=INTERNAL_HOSTS).html
        assert X.find_executable(f'<div class="prose">{rendered}</div>') == [], batch


def test_code_stays_text():
    source = "`<img src=x onerror=alert(1)>`\n\n```html\n<script>alert(1)</script>\n```"
    rendered = sanitize.render_markdown(source).html
    assert "<code>&lt;img src=x onerror=alert(1)&gt;</code>" in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def test_table_alignment_is_the_only_style_left():
    """Exactly what Markdown tables write, which the Content-Security-Policy allows by hash."""
    rendered = sanitize.render_markdown(
        '| a |\n|--:|\n| 1 |\n\n<table><tr><td style="text-align:expression(alert(1))">x</td>'
        '<td style="text-align:\\65 xpression(alert(1))">y</td><td style="text-align: center">z</td></tr></table>').html
    assert '<th style="text-align:right;">a</th>' in rendered
    assert "expression" not in rendered and "<td>z</td>" in rendered  # only the form Markdown writes


# ---- through the forms ---------------------------------------------------------------------------------

_TOKEN_INPUT = re.compile(r'<input\b[^>]*\bname="csrf_token"[^>]*>')


def csrf_token(page: str) -> str:
    tag = _TOKEN_INPUT.search(page)
    assert tag, "the page has no form with a CSRF token"
    return html.unescape(re.search(r'\bvalue="([^"]*)"', tag.group(0)).group(1))


class Visitor:
    """One browser session on the CSRF-protected app. A form's token is read from the page that shows the
    form, the first time that form is used in the session (a browser tab reuses it the same way)."""

    def __init__(self, app, user=None):
        self.client = app.test_client()
        self.user = user
        self._tokens: dict[str, str] = {}

    def get(self, path: str, status: int = 200, **kwargs) -> str:
        response = self.client.get(path, **kwargs)
        assert response.status_code == status, f"GET {path}: {response.status_code}"
        return response.get_data(as_text=True)

    def token(self, form_page: str) -> str:
        if form_page not in self._tokens:
            self._tokens[form_page] = csrf_token(self.get(form_page))
        return self._tokens[form_page]

    def submit(self, form_page: str, data: dict, *, action: str | None = None, status=(302,), **kwargs):
        response = self.client.post(action or form_page, data={**data, "csrf_token": self.token(form_page)},
                                    **kwargs)
        assert response.status_code in status, (
            f"POST {action or form_page}: {response.status_code}\n{response.get_data(as_text=True)[:2000]}")
        return response

    def login(self) -> "Visitor":
        self.submit("/login", {"login": self.user.username, "password": PASSWORD})
        self._tokens.clear()
        return self


class Findings:
    """Everything executable found on the pages, feeds and emails checked during one test."""

    def __init__(self):
        self.items: list[str] = []
        self.checked = 0

    def page(self, where: str, markup: str) -> str:
        self.checked += 1
        self.items += [f"{where}: {finding}" for finding in X.find_executable(markup)]
        return markup

    def feed(self, where: str, xml: str) -> list[ET.Element]:
        self.checked += 1
        self.items += [f"{where}: {finding}" for finding in X.feed_findings(xml)]
        return list(ET.fromstring(xml.encode()).iter("{http://www.w3.org/2005/Atom}entry"))

    def assert_none(self):
        assert not self.items, f"{len(self.items)} executable finding(s):\n" + "\n".join(self.items[:50])


def title_of(vector: str) -> str:
    return vector[:200]


def stored_title(vector: str) -> str:
    return " ".join(sanitize.clean_text(title_of(vector)).split())


def editor_form(title: str, source: str, *, tags: str = "", action: str = "publish", **extra) -> dict:
    return {"title": title, "slug": "", "source": source, "excerpt": "", "tags": tags, "nav_order": "",
            "featured_image": "", "publish_at": "", "version": "", "action": action, **extra}


def _saved_id(response) -> int:
    return int(re.search(r"/studio/posts/(\d+)/edit", response.headers["Location"]).group(1))


@pytest.fixture
def site(app, make_app, monkeypatch):
    """The blog with CSRF on, 100 posts per list page and feeds that list every post (so one page of each
    shows a whole category), and no per-minute comment limit (one reader writes every comment)."""
    served = make_app(WTF_CSRF_ENABLED=True, POSTS_PER_PAGE=100, COMMENTS_PER_MINUTE=100_000)
    monkeypatch.setattr(feed_service, "FEED_ENTRIES", 1000)
    with served.app_context():
        yield served


def _publish(writer: Visitor, kind: str, data: dict, found: Findings, label: str) -> tuple[int, bool]:
    """Publish through the editor form; when the alt-text rule refuses, save it through the form and mark the
    saved row published. Returns the id and whether the form published it."""
    form_page = f"/studio/new/{kind}"
    response = writer.submit(form_page, {**data, "action": "publish"}, status=(302, 422))
    if response.status_code == 302:
        return _saved_id(response), True
    page = found.page(f"editor refusing {label}", response.get_data(as_text=True))
    assert "Describe every image before publishing" in page, page[:3000]
    post_id = _saved_id(writer.submit(form_page, {**data, "action": "save"}))
    post = db.session.get(Post, post_id)
    post.status, post.published_at = "published", now() - timedelta(minutes=1)
    db.session.commit()
    return post_id, False


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_corpus_through_the_forms_leaves_nothing_executable(site, category):
    vectors = X.VECTORS[category]
    found = Findings()
    anonymous = Visitor(site)
    writer_users = [make_user(role, username=f"{role}-{category[:6]}") for role in ("author", "editor", "admin")]
    writers = [Visitor(site, user).login() for user in writer_users]
    reader_user = make_user("reader", username=f"reader-{category[:6]}")
    reader = Visitor(site, reader_user).login()
    outbox = Path(site.config["MAIL_OUTBOX"])
    for old in outbox.glob("*.eml"):
        old.unlink()

    # Display names (text everywhere: bylines, emails, feeds) and bios (Markdown, in batches).
    for writer, name in zip(writers, X.BREAKOUTS):
        writer.submit("/settings/profile", {"display_name": name[:80], "bio": "\n\n".join(vectors[:3]),
                                            "locale": "", "timezone": ""})
    for n, batch in enumerate(X.batches(vectors, max_chars=BIO_MAX)):
        reader.submit("/settings/profile", {"display_name": batch[0][:80], "bio": "\n\n".join(batch),
                                            "locale": "", "timezone": ""})
        found.page(f"bio batch {n}", anonymous.get(f"/u/{reader_user.username}"))
        bio_html = db.session.get(type(reader_user), reader_user.id).bio_html
        assert X.find_executable(f'<div class="prose">{bio_html}</div>') == []
    found.page("profile form", reader.get("/settings/profile"))

    # Uploads: alt text and file name from the first vectors (each writer gets some, for media: references).
    media_ids: dict[int, int] = {}
    for i, vector in enumerate(vectors[:ALT_SAMPLE]):
        writer = writers[i % 3]
        writer.submit("/studio/media", {"files": [(io.BytesIO(X.png(i)), X.file_name(vector), "image/png")],
                                        "alt_text": vector[:300]}, content_type="multipart/form-data")
        media_ids[i] = db.session.scalar(sa.select(sa.func.max(Media.id)).where(Media.owner_id == writer.user.id))
        assert db.session.get(Media, media_ids[i]).status == "ready"
    own_media = {writer.user.id: media_ids[i] for i, writer in reversed(list(enumerate(writers)))}
    for writer in writers:
        found.page(f"media library of {writer.user.role}", writer.get("/studio/media"))
    found.page("everyone's uploads", writers[2].get("/studio/media?scope=all"))

    # One post per vector: title, body and a tag, by author, editor and admin in turn.
    posts: list[tuple[int, str, str]] = []  # (id, slug, vector)
    refused = 0
    for i, vector in enumerate(vectors):
        writer = writers[i % 3]
        source = vector.replace(X.MEDIA_PLACEHOLDER, f"media:{own_media[writer.user.id]}")
        if i in media_ids:
            source = f"![](media:{media_ids[i]})\n\n{source}"
        post_id, by_form = _publish(writer, "post", editor_form(title_of(vector), source,
                                                                tags=X.tag_name(vector, i)),
                                    found, f"vector {i}")
        refused += not by_form
        post = db.session.get(Post, post_id)
        assert post.title == stored_title(vector)
        # One policy for every role: what was stored is the plain rendering of the source.
        assert post.body_html == sanitize.render_markdown(post.source, internal_hosts=INTERNAL_HOSTS).html
        assert X.find_executable(f'<div class="prose">{post.body_html}</div>') == [], vector
        posts.append((post_id, post.slug, vector))
    for n, (post_id, _slug, vector) in enumerate(posts[:EDIT_SAMPLE]):
        # The editor (with the flashed "Published …" messages), then an edit, so the history has a diff to show.
        writer, edit = writers[n % 3], f"/studio/posts/{post_id}/edit"
        page = found.page(f"editor of post {n}", writer.get(edit))
        version = re.search(r'<input\b[^>]*name="version"[^>]*>', page).group(0)
        post = db.session.get(Post, post_id)
        writer.submit(edit, editor_form(post.title, f"{post.source}\n\nEdited.", tags=post.tags[0].name,
                                        action="save", version=re.search(r'value="(\d+)"', version).group(1)),
                      status=(302, 422))
        history = found.page(f"revisions of post {n}", writer.get(f"/studio/posts/{post_id}/revisions"))
        for revision_id in re.findall(rf"/studio/posts/{post_id}/revisions/(\d+)", history)[:1]:
            found.page(f"diff of post {n}", writer.get(f"/studio/posts/{post_id}/revisions/{revision_id}"))
    for writer in writers:
        found.page(f"studio list of {writer.user.role}", writer.get("/studio/posts?scope=all"))

    # Pages (editors' kind of post) with the vectors in batches; they are also in every page's navigation.
    page_slugs = []
    for n, batch in enumerate(X.batches(vectors, max_chars=20_000)):
        data = editor_form(title_of(batch[0]), "\n\n".join(batch).replace(X.MEDIA_PLACEHOLDER,
                                                                           f"media:{own_media[writers[1].user.id]}"),
                           slug=f"xss-page-{n}", nav_order=str(n + 1))
        page_id, _by_form = _publish(writers[1], "page", data, found, f"page batch {n}")
        page_slugs.append(db.session.get(Post, page_id).slug)

    # Comments: the reader's first ones wait for moderation (the post's author gets an email each), an
    # admin approves them with the moderation form (the reader gets an email each), the rest appear at once.
    comment_form_page = f"/p/{posts[0][1]}"
    comment_ids = []
    for i, (post_id, slug, vector) in enumerate(posts):
        if i == EMAIL_SAMPLE:
            found.page("the reader's pending comment", reader.get(comment_form_page))
            for writer in writers:
                found.page(f"moderation queue of {writer.user.role}", writer.get("/studio/comments/"))
            writers[2].submit("/studio/comments/", {"comment_ids": comment_ids, "action": "approve",
                                                    "status": "pending"}, action="/studio/comments/moderate")
        reader.submit(comment_form_page, {"body": vector}, action=f"/p/{slug}/comments")
        comment = db.session.scalar(sa.select(Comment).where(Comment.post_id == post_id))
        assert comment.status == ("pending" if i < EMAIL_SAMPLE else "approved")
        comment_ids.append(comment.id)
        assert X.find_executable(f'<div class="prose">{comment.body_html}</div>') == [], vector
    found.page("approved comments in the queue", writers[2].get("/studio/comments/?status=approved"))

    # Every reader page that shows what was written.
    for post_id, slug, vector in posts:
        page = found.page(f"post page of {vector!r}", anonymous.get(f"/p/{slug}"))
        assert str(escape(stored_title(vector))) in page  # the title is there, as text
    home = found.page("home", anonymous.get("/"))
    assert home.count('class="card"') == len(posts)
    for post_id, _slug, vector in posts[:TAG_SAMPLE]:
        (tag,) = db.session.get(Post, post_id).tags
        found.page(f"tag page of {vector!r}", anonymous.get(f"/tag/{tag.slug}"))
    for user in (*writer_users, reader_user):
        found.page(f"author page of {user.role}", anonymous.get(f"/u/{user.username}"))
    today = now()
    found.page("archive", anonymous.get("/archive"))
    found.page("archive month", anonymous.get(f"/archive/{today.year}/{today.month:02d}"))
    for slug in page_slugs:
        found.page(f"page {slug}", anonymous.get(f"/{slug}"))
    # Usernames are never HTML: the registration form refuses these, and shows what was typed back as text.
    newcomer, passphrase = Visitor(site), "a long enough passphrase"
    for vector in vectors[:3]:
        response = newcomer.submit("/register", {"username": vector[:30], "email": "new@example.com",
                                                 "password": passphrase, "confirm": passphrase}, status=(422,))
        found.page(f"registration refusing {vector!r}", response.get_data(as_text=True))
        response = newcomer.submit("/login", {"login": vector[:254], "password": "wrong"}, status=(200, 401, 422))
        found.page(f"sign-in refusing {vector!r}", response.get_data(as_text=True))
    found.page("admin users", writers[2].get("/admin/users"))
    found.page("audit log", writers[2].get("/admin/audit"))

    # Search: result pages for the payload words (titles and body snippets), and each sampled vector as the
    # query (it is shown back in the title, the heading and the search box).
    for word in ("alert", "script", "onerror", "javascript"):
        found.page(f"search for {word}", anonymous.get("/search", query_string={"q": word}))
    sample = vectors if category == "breakouts" else vectors[:SEARCH_SAMPLE]
    for vector in sample:
        found.page(f"search for {vector!r}", anonymous.get("/search", query_string={"q": vector}))

    # Atom feeds: XML that must parse, whose HTML content is parsed and checked as HTML in turn.
    entries = found.feed("site feed", anonymous.get("/feed.atom"))
    assert len(entries) == len(posts)
    for user in writer_users:
        found.feed(f"feed of {user.role}", anonymous.get(f"/u/{user.username}/feed.atom"))

    # Emails: a moderation notice per pending comment's post, an approval notice per approved comment.
    messages = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    assert len(messages) >= 2 * min(EMAIL_SAMPLE, len(posts))
    texts = []
    for message in messages:
        texts.append(message.get_body(preferencelist=("plain",)).get_content())
        found.page(f"email {message['Subject']!r}", message.get_body(preferencelist=("html",)).get_content())
    for _post_id, _slug, vector in posts[:EMAIL_SAMPLE]:
        assert sum(stored_title(vector) in text for text in texts) >= 2, vector  # both emails name the post

    print(f"\n{category}: {len(vectors)} vectors, {len(posts)} posts ({refused} refused by the alt-text rule "
          f"and published directly), {len(page_slugs)} pages, {len(messages)} emails, {found.checked} documents "
          "checked")
    found.assert_none()


def test_one_policy_for_every_role(site):
    """The same hostile Markdown saved by an author, an editor and an admin (posts, bios) is stored the same."""
    source = "\n\n".join(X.batches([v for group in X.VECTORS.values() for v in group[:6]], max_chars=6000)[0])
    bodies, bios = set(), set()
    for role in ("author", "editor", "admin"):
        user = make_user(role, username=f"same-{role}")
        writer = Visitor(site, user).login()
        post_id = _saved_id(writer.submit("/studio/new/post", editor_form(f"Same for {role}", source,
                                                                          action="save")))
        bodies.add(db.session.get(Post, post_id).body_html)
        writer.submit("/settings/profile", {"display_name": role, "bio": source[:4500], "locale": "", "timezone": ""})
        bios.add(db.session.get(type(user), user.id).bio_html)
    assert len(bodies) == 1 and len(bios) == 1
    assert X.find_executable(f'<div class="prose">{bodies.pop()}</div>') == []
    assert X.find_executable(f'<div class="prose">{bios.pop()}</div>') == []


def test_the_editor_preview_is_sanitized_for_every_batch(site):
    """The preview endpoint (its HTML goes into the editor page through innerHTML) renders each batch clean."""
    editor = Visitor(site, make_user("editor", username="previewer")).login()
    found = Findings()
    for n, batch in enumerate(X.batches(X.ALL, max_chars=20_000)):
        response = editor.submit("/studio/new/post", editor_form(batch[0][:200], "\n\n".join(batch), action="preview"),
                                 action="/studio/preview/post", status=(200,))
        found.page(f"preview of batch {n}", response.get_data(as_text=True))
    found.assert_none()
