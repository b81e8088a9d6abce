"""The whole XSS corpus (``tests/xss_vectors.py``) on real pages in a real browser, and not one execution.

The blog runs in a real HTTP server (werkzeug, in a thread, on a free loopback port, CSRF on) and Debian's
Chromium loads, through Playwright, pages that together hold every vector in every place users write:

- post bodies (the vectors in batches, :func:`tests.xss_vectors.batches`), with their titles and tags;
- one post holding every vector as a comment of its own;
- bios (in batches) on author pages, each author listing posts titled with the vectors (all of them);
- the search results for the payload words (titles and snippets), and vectors typed as the query;
- uploads whose alt texts and file names are vectors (a post showing them, and the media library);
- each batch in the studio editor's preview, which its script puts in the page with ``innerHTML``;
- pages (in every page's navigation) titled with vectors.

An init script, run in every frame before the page's own scripts, replaces ``alert``, ``confirm``, ``prompt``
and ``print``, traps writes to ``window.__xss`` and ``document.title``, and records CSP violation events.
The test also records real dialogs, uncaught page errors, console errors (failed image loads aside: the
sanitizer keeps ``<img src="x">``, which then 404s) and any request to ``evil.example``; every other host is
cut off. After each page has loaded and settled, a scan in the page itself, with the browser's own URL
parser, lists event-handler attributes, script URLs, frames, foreign (SVG/MathML) elements and scripts the
page did not ship. All of it must stay empty; a control page of raw vectors proves the harness would see.
An image the Content-Security-Policy refuses (``img-src``: a remote image the sanitizer lets posts show) is
not a script: those refusals are printed, not failed. Every other CSP violation fails the test.
"""
from __future__ import annotations

import io
import re
import threading
import time
from collections import Counter
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from blog import sanitize
from blog.extensions import db
from blog.models.comment import Comment
from blog.services import accounts, media
from blog.services import posts as post_service
from tests import xss_vectors as X
from tests.factories import PASSWORD, make_post, make_user

SETTLE_MS = 300  # after "load": timers, autofocus, animations and transitions get their chance to fire
NAVIGATION_TIMEOUT_MS = 20_000
SEARCH_QUERIES = 6  # vectors typed as the search query (from the "breakouts" category)
ALT_TEXTS = 10  # uploads whose alt text and file name are vectors
SEARCH_WORDS = "alert+OR+confirm+OR+prompt+OR+print+OR+title+OR+xss"  # one of them is in every vector


# Runs in every frame before any of the page's scripts.
TRAP = """
(() => {
  const record = (kind, detail) => {
    const hit = {kind, detail: String(detail).slice(0, 200), where: String(location.href).slice(0, 120)};
    try { (window.top.__xssHits = window.top.__xssHits || []).push(hit); }
    catch (e) { (window.__xssHits = window.__xssHits || []).push(hit); }
  };
  window.__xssHits = window.__xssHits || [];
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    const trap = function (...args) { record(name, args.join(",")); return name === "prompt" ? null : false; };
    try { Object.defineProperty(window, name, {value: trap, writable: false, configurable: false}); }
    catch (e) { window[name] = trap; }
  }
  let xss;
  Object.defineProperty(window, "__xss", {get() { return xss; }, set(v) { record("window.__xss", v); xss = v; },
                                           configurable: false});
  const title = Object.getOwnPropertyDescriptor(Document.prototype, "title");
  Object.defineProperty(Document.prototype, "title", {
    get() { return title.get.call(this); },
    set(v) { record("document.title", v); title.set.call(this, v); }, configurable: false});
  document.addEventListener("securitypolicyviolation", (e) => {
    record("csp", `${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`);
  }, true);
})();
"""

# Runs in the page after it settled: what the browser's own parser made of it.
SCAN = r"""
() => {
  const out = [];
  const bad = ["javascript:", "vbscript:", "livescript:", "mocha:", "data:"];
  const urlAttributes = new Set(["href", "src", "action", "formaction", "data", "poster", "background", "lowsrc",
    "dynsrc", "codebase", "cite", "ping", "longdesc", "xlink:href", "srcset", "to", "values", "from", "by"]);
  const forbidden = new Set(["iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal", "style",
    "noscript", "template", "xmp", "noembed", "noframes", "plaintext", "param", "fencedframe"]);
  const scheme = (value) => {
    try { return new URL(value, location.href).protocol; } catch (e) { return ""; }
  };
  const describe = (el) => el.outerHTML.slice(0, 160);
  for (const el of document.querySelectorAll("*")) {
    const tag = el.localName;
    if (el.namespaceURI !== "http://www.w3.org/1999/xhtml") out.push(`foreign element: ${describe(el)}`);
    if (forbidden.has(tag)) out.push(`forbidden element: ${describe(el)}`);
    if (tag === "script") {
      const type = (el.getAttribute("type") || "").toLowerCase();
      const src = el.getAttribute("src");
      const own = src && new URL(src, location.href).origin === location.origin &&
                  new URL(src, location.href).pathname.startsWith("/static/") && !el.textContent.trim();
      if (!(type === "application/ld+json" && !src) && !own) out.push(`script: ${describe(el)}`);
    }
    if (tag === "meta" && el.hasAttribute("http-equiv")) out.push(`meta http-equiv: ${describe(el)}`);
    if (tag === "link" && el.closest("body")) out.push(`link in body: ${describe(el)}`);
    if (el.closest(".prose") && ["form", "input", "button", "textarea", "select"].includes(tag)) {
      out.push(`form control in user content: ${describe(el)}`);
    }
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) out.push(`event handler: ${describe(el)}`);
      if (name === "srcdoc") out.push(`srcdoc: ${describe(el)}`);
      if (urlAttributes.has(name) || name.endsWith(":href")) {
        const values = name === "srcset" ? attr.value.split(",").map((c) => c.trim().split(/\s+/)[0]) : [attr.value];
        for (const value of values) {
          const s = scheme(value);
          const placeholder = s === "data:" && tag === "img" && name === "src" &&
                              /^\s*data:image\/(gif|png|jpeg|webp)[;,]/i.test(value);
          if (bad.includes(s) && !placeholder) out.push(`${s} URL: ${describe(el)}`);
        }
      }
      if (name === "style" && /expression|javascript:|vbscript:|behavior|binding|@import|url\(/i.test(attr.value)) {
        out.push(`style: ${describe(el)}`);
      }
    }
  }
  for (const a of document.links) {
    if (bad.includes(a.protocol)) out.push(`link protocol ${a.protocol}: ${describe(a)}`);
  }
  return out;
}
"""


def _expected_console_error(text: str) -> bool:
    """Console errors that are not a vector running: an image that failed to load (the sanitizer keeps
    ``<img src="x">``; every host but ours is cut off) or that the Content-Security-Policy refused."""
    return text.startswith("Failed to load resource") or (
        text.startswith("Loading the image") and "Content Security Policy directive: \"img-src" in text)


class Watcher:
    """Everything one browser context reports that would mean a vector ran (or tried to)."""

    def __init__(self, context, origin: str):
        self.origin = origin
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.evil_requests: list[str] = []
        self.hits: list[dict] = []
        self.blocked_images: list[dict] = []  # CSP refusals of an image: not a script, reported only
        self.scan: list[str] = []
        self.pages = 0
        context.add_init_script(TRAP)
        context.route(re.compile(r".*"), self._route)

    def _route(self, route):
        url = route.request.url
        if "evil.example" in url:
            self.evil_requests.append(url)
        if not url.startswith(self.origin + "/"):
            route.abort()
        elif route.request.resource_type == "image" and not url.startswith(
                (self.origin + "/media/", self.origin + "/static/")):
            route.fulfill(status=404, body="")  # <img src="x"> and the like: not worth a page render each
        else:
            route.continue_()

    def attach(self, page):
        page.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        page.on("dialog", lambda dialog: (self.dialogs.append(f"{dialog.type}: {dialog.message}"),
                                          dialog.dismiss()))
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: message.type == "error" and not _expected_console_error(message.text)
                and self.console_errors.append(f"{page.url}: {message.text}"))
        return page

    def settle_and_scan(self, page, label: str):
        page.wait_for_load_state("load")
        page.wait_for_timeout(SETTLE_MS)
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        for hit in page.evaluate("() => window.__xssHits || []"):
            blocked_image = hit["kind"] == "csp" and hit["detail"].startswith(("img-src", "media-src"))
            (self.blocked_images if blocked_image else self.hits).append({**hit, "page": label})
        self.scan += [f"{label}: {finding}" for finding in page.evaluate(SCAN)]
        self.pages += 1

    def visit(self, page, path: str, label: str | None = None):
        response = page.goto(self.origin + path, wait_until="load")
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        self.settle_and_scan(page, label or path)

    def problems(self) -> dict[str, list]:
        found = {"script executions and CSP violations": self.hits, "dialogs": self.dialogs,
                 "page errors": self.page_errors, "console errors": self.console_errors,
                 "requests to evil.example": self.evil_requests, "executable DOM": self.scan}
        return {kind: items for kind, items in found.items() if items}


def _build_corpus() -> dict:
    """Every vector in every place, written through the services (the form tests cover the forms)."""
    editor = make_user("editor", username="corpus-editor", display_name=X.BREAKOUTS[0][:80])
    uploads = [media.upload(actor=editor, stream=io.BytesIO(X.png(i)), content_type="image/png",
                            filename=X.file_name(v), alt_text=v)
               for i, v in enumerate(X.BREAKOUTS[:ALT_TEXTS])]
    own = f"media:{uploads[0].id}"
    post_batches = X.batches(X.ALL, max_chars=20_000)
    bodies = [make_post(editor, title=batch[0][:200], source="\n\n".join(batch).replace(X.MEDIA_PLACEHOLDER, own),
                        tags=[X.tag_name(batch[0], n)]) for n, batch in enumerate(post_batches)]
    pictures = make_post(editor, title=X.BREAKOUTS[1][:200],
                         source="\n\n".join(f"![](media:{item.id})" for item in uploads))
    for n, title in enumerate(X.BREAKOUTS[2:5]):
        make_post(editor, title=title, source=f"Page {n}.", kind="page", nav_order=n + 1)

    reader = make_user("reader", username="corpus-reader", display_name=X.BREAKOUTS[5][:80])
    wall = make_post(editor, title=X.BREAKOUTS[6][:200], source="Every vector below is a comment of its own.")
    for vector in X.ALL:  # as the comments service stores them (its form path is in test_xss_corpus.py)
        rendered = sanitize.render_markdown(sanitize.clean_text(vector), comment=True, internal_hosts=("blog.test",))
        db.session.add(Comment(post=wall, author=reader, source=sanitize.clean_text(vector), body_html=rendered.html,
                               sanitizer_version=rendered.version, status="approved"))
    db.session.commit()

    bio_users = []
    for n, batch in enumerate(X.batches(X.ALL, max_chars=4500)):
        user = make_user("author", username=f"bio{n}")
        accounts.update_profile(actor=user, display_name=batch[-1][:80], bio="\n\n".join(batch), locale=None,
                                timezone_name=None)
        bio_users.append(user)
    for i, vector in enumerate(X.ALL):  # every vector as a title and a tag name, listed on its author's page
        post_service.create_post(actor=bio_users[i % len(bio_users)], title=vector[:200], source="A title probe.",
                                 tags=[X.tag_name(vector, i)], status="published")
    return {"bodies": [(p.id, p.slug) for p in bodies], "pictures": pictures.slug, "wall": wall.slug,
            "authors": [u.username for u in bio_users], "editor": editor}


@contextmanager
def _serving(served):
    """``served`` over HTTP on a free loopback port (werkzeug, in a thread); its origin; stopped afterwards."""
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="xss-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def live_corpus(app, make_app):
    """The corpus written into the database, and the blog serving it over HTTP (CSRF on)."""
    served = make_app(WTF_CSRF_ENABLED=True, POSTS_PER_PAGE=100)
    with served.app_context():
        started = time.monotonic()
        corpus = _build_corpus()
        corpus["build_seconds"] = time.monotonic() - started
        with _serving(served) as origin:
            yield {**corpus, "origin": origin}


@pytest.fixture
def live_server(app, make_app):
    served = make_app(WTF_CSRF_ENABLED=True)
    with served.app_context(), _serving(served) as origin:
        yield origin


def _sign_in(watcher: Watcher, page, user) -> None:
    page.goto(watcher.origin + "/login")
    page.fill("input[name=login]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")  # not the header's search form


def test_the_whole_corpus_runs_nothing_in_a_real_browser(live_corpus, browser):
    started = time.monotonic()
    origin = live_corpus["origin"]
    reader_context = browser.new_context()
    studio_context = browser.new_context()
    try:
        readers = Watcher(reader_context, origin)
        page = readers.attach(reader_context.new_page())
        for _post_id, slug in live_corpus["bodies"]:
            readers.visit(page, f"/p/{slug}")
        readers.visit(page, f"/p/{live_corpus['wall']}", "every vector as a comment")
        assert page.locator("article.comment").count() == len(X.ALL)
        readers.visit(page, f"/p/{live_corpus['pictures']}", "alt texts")
        for username in live_corpus["authors"]:
            readers.visit(page, f"/u/{username}")
        readers.visit(page, "/", "home")
        n = 1
        while True:  # every post has "alert", "confirm", "prompt", "print" or "xss" in its title or text
            readers.visit(page, f"/search?q={SEARCH_WORDS}&page={n}", f"search {n}")
            if not page.locator("a[rel=next]").count():
                break
            n += 1
        for vector in X.BREAKOUTS[:SEARCH_QUERIES]:
            page.goto(origin + "/search")
            page.fill("#search-q", vector[:200])
            with page.expect_navigation():
                page.press("#search-q", "Enter")
            readers.settle_and_scan(page, f"search typed {vector!r}")

        studio = Watcher(studio_context, origin)
        page = studio.attach(studio_context.new_page())
        _sign_in(studio, page, live_corpus["editor"])
        studio.visit(page, "/studio/media", "media library")
        for post_id, _slug in live_corpus["bodies"]:
            studio.visit(page, f"/studio/posts/{post_id}/edit", f"editor of post {post_id}")
            with page.expect_response(lambda r: r.url.endswith("/studio/preview/post") and r.status == 200):
                page.click("button[data-preview]")  # the script fetches the preview and sets innerHTML
            page.wait_for_function("() => document.querySelector('#preview .prose') !== null")
            studio.settle_and_scan(page, f"preview of post {post_id}")

        problems = {**{f"reader {k}": v for k, v in readers.problems().items()},
                    **{f"studio {k}": v for k, v in studio.problems().items()}}
        pages = readers.pages + studio.pages
        blocked = readers.blocked_images + studio.blocked_images
    finally:
        reader_context.close()
        studio_context.close()
    print(f"\n{len(X.ALL)} vectors, {pages} pages loaded and scanned in {time.monotonic() - started:.1f}s "
          f"(corpus written in {live_corpus['build_seconds']:.1f}s); images the Content-Security-Policy refused "
          f"(not scripts): {dict(Counter(hit['detail'].strip() for hit in blocked))}")
    assert problems == {}, "\n".join(f"{kind}: {items[:20]}" for kind, items in problems.items())


CONTROL = """<!doctype html><html><head><title>control</title></head><body>
<div class="prose">
<img src="x" onerror="alert(1)">
<svg onload="confirm(1)"></svg>
<script>document.title = "XSS"</script>
<script>window.__xss = 1</script>
<iframe srcdoc="<script>parent.prompt(1)</script>"></iframe>
<a href="java&#x09;script:alert(1)">link</a>
<script src="https://evil.example/x.js"></script>
<script>undefinedFunctionCall()</script>
</div></body></html>"""


def test_the_harness_sees_what_runs(live_server, browser):
    """A control page of raw vectors, served in place of a real address: every detector fires."""
    context = browser.new_context()
    try:
        watcher = Watcher(context, live_server)
        page = watcher.attach(context.new_page())
        page.route(live_server + "/__control", lambda route: route.fulfill(
            status=200, content_type="text/html; charset=utf-8", body=CONTROL))
        watcher.visit(page, "/__control", "control")
        kinds = {hit["kind"] for hit in watcher.hits}
    finally:
        context.close()
    assert {"alert", "confirm", "prompt", "document.title", "window.__xss"} <= kinds, watcher.hits
    assert watcher.evil_requests and watcher.page_errors
    scanned = " ".join(watcher.scan)
    assert "event handler" in scanned and "javascript: URL" in scanned and "forbidden element" in scanned
    assert "foreign element" in scanned and "script:" in scanned
