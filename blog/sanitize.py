"""Markdown to safe HTML: the only module that imports bleach and the Markdown renderer.

Content is rendered once, when it is saved, and stored beside its source with :data:`VERSION`.
Bump :data:`VERSION` whenever the policy below changes so stale rows are re-rendered.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import bleach
from bleach.css_sanitizer import CSSSanitizer
from bleach.html5lib_shim import Filter
from markdown_it import MarkdownIt

VERSION = 4  # 2: images may reference uploads (``media:12``); 3: table cells keep only an exact text-align;
#             4: code blocks and tables can take keyboard focus (they scroll sideways on small screens)

# Elements removed together with everything inside them (bleach alone would keep their text).
_DROP_WITH_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "embed", "noscript", "textarea",
                                "title", "xmp", "noembed", "noframes", "plaintext", "svg", "math", "select"})

_INLINE = {"a", "abbr", "b", "br", "code", "del", "em", "i", "kbd", "mark", "s", "small", "strong", "sub", "sup"}
_BLOCK = {"p", "blockquote", "pre", "ul", "ol", "li", "hr"}
POST_TAGS = frozenset(_INLINE | _BLOCK | {"h2", "h3", "h4", "h5", "h6", "img", "figure", "figcaption",
                                          "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd"})
COMMENT_TAGS = frozenset(_INLINE | _BLOCK)
PROTOCOLS = frozenset({"http", "https", "mailto", "media"})
# ``![alt](media:12)`` points at an upload; pages swap it for a <picture> when they render.
_MEDIA_REFERENCE = re.compile(r"^media:[1-9][0-9]{0,17}$")

_LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#-]{1,30}$")
_ALIGN_STYLE = CSSSanitizer(allowed_css_properties=["text-align"])
# The only style Markdown tables write, exactly as they write it. bleach's CSS sanitizer checks property
# names, not values (``text-align:expression(...)``, ``text-align:\\65 xpression(...)`` pass it), and the
# Content-Security-Policy allows these three serializations by hash (``TABLE_ALIGN_STYLES`` in app.py).
_ALIGN_VALUE = re.compile(r"^text-align:(?:left|right|center);?$")


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if name == "title":
        return True
    if tag == "a":
        return name == "href" and not value.strip().lower().startswith("media:")
    if tag == "img":
        if name == "src" and value.strip().lower().startswith("media:"):
            return bool(_MEDIA_REFERENCE.match(value))
        return name in {"src", "alt", "width", "height"}
    if tag == "code":
        return name == "class" and bool(_LANGUAGE_CLASS.match(value))
    if tag in {"th", "td"}:
        return name == "style" and bool(_ALIGN_VALUE.match(value))
    if tag == "ol":
        return name == "start"
    return False


class _DropContentFilter(Filter):
    """Removes dangerous elements and their content instead of leaving their text behind."""

    def __iter__(self):
        depth = 0
        for token in super().__iter__():
            kind, name = token["type"], token.get("name")
            if name in _DROP_WITH_CONTENT:
                if kind == "StartTag":
                    depth += 1
                    continue
                if kind == "EndTag":
                    depth = max(0, depth - 1)
                    continue
                if kind == "EmptyTag":
                    continue
            if depth == 0:
                yield token


class _ScrollableBlocks(Filter):
    """Code blocks and tables scroll sideways inside themselves when wider than the screen; keyboard users
    can only scroll what can take focus, so each gets ``tabindex="0"`` (authors cannot set tabindex)."""

    def __iter__(self):
        for token in super().__iter__():
            if token["type"] == "StartTag" and token["name"] in {"pre", "table"}:
                token["data"][(None, "tabindex")] = "0"
            yield token


def _external_link_filter(internal_hosts: frozenset[str]):
    class _ExternalLinks(Filter):
        """Marks links that leave the site ``rel="nofollow ugc noopener"``."""

        def __iter__(self):
            for token in super().__iter__():
                if token["type"] == "StartTag" and token["name"] == "a":
                    attrs = token["data"]
                    href = attrs.get((None, "href"), "")
                    host = (urlsplit(href).hostname or "").lower() if href else ""
                    if host and host not in internal_hosts:
                        attrs[(None, "rel")] = "nofollow ugc noopener"
                yield token

    return _ExternalLinks


_markdown = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False}).enable(
    ["table", "strikethrough", "linkify"]
)


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str
    version: int = VERSION

    @property
    def word_count(self) -> int:
        return len(self.text.split())


def _clean(raw_html: str, tags: frozenset[str], internal_hosts: frozenset[str]) -> str:
    cleaner = bleach.Cleaner(
        tags=tags | _DROP_WITH_CONTENT,
        attributes=_allow_attribute,
        protocols=PROTOCOLS,
        strip=True,
        strip_comments=True,
        css_sanitizer=_ALIGN_STYLE,
        filters=[_DropContentFilter, _ScrollableBlocks, _external_link_filter(internal_hosts)],
    )
    # Always double quotes (a value's own " becomes &quot;). By default the serializer picks single quotes
    # for a value holding ", so alt=' src="media:2"' reached the code that reads stored HTML with patterns
    # (media_display.image_tags, feeds.absolute_html), which then saw an attribute the sanitizer never checked.
    cleaner.serializer.use_best_quote_char = False
    return cleaner.clean(raw_html)


def clean_text(value: str | None) -> str:
    """Text safe to store: NUL (which PostgreSQL refuses in text columns) becomes U+FFFD."""
    return (value or "").replace("\x00", "\ufffd")


def to_text(safe_html: str) -> str:
    """Plain text of already sanitized HTML, whitespace collapsed (for excerpts and word counts)."""
    stripped = bleach.clean(safe_html, tags=set(), strip=True)
    return " ".join(html.unescape(stripped).split())


def render_markdown(source: str, *, internal_hosts=(), comment: bool = False) -> Rendered:
    """Render Markdown (CommonMark, tables, strikethrough, autolinks) and sanitize the HTML.

    ``comment=True`` applies the smaller comment allowlist (no images, headings or tables).
    ``internal_hosts`` are the host names whose links are not marked nofollow.
    """
    raw = _markdown.render(source or "")
    hosts = frozenset(h.lower() for h in internal_hosts)
    safe = _clean(raw, COMMENT_TAGS if comment else POST_TAGS, hosts)
    return Rendered(html=safe, text=to_text(safe))


# Blocks an excerpt leaves out: a table's cells or a code block read as noise in a list of posts.
_NOT_IN_EXCERPTS = re.compile(r"<(table|pre|figure)\b.*?</\1>", re.S)


def excerpt_from_html(safe_html: str, limit: int = 280) -> str:
    """The automatic excerpt of sanitized HTML: its prose, without tables, code blocks and figures."""
    return excerpt_from_text(to_text(_NOT_IN_EXCERPTS.sub("\n", safe_html)), limit)


def excerpt_from_text(text: str, limit: int = 280) -> str:
    """The first ``limit`` characters of ``text``, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"
