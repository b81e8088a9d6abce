"""Atom feeds and the sitemap: what they list, with absolute URLs, and a cheap version for conditional GET.

They list exactly what the reader pages list (:func:`blog.services.posts.visible`): published posts whose
time has come. Drafts, archived and scheduled posts never appear; a scheduled post appears by itself once
its time comes. As on the reader pages, the posts of a suspended author stay in the site and tag feeds,
and the author's own feed is a 404 like their profile.

Absolute URLs come from ``BASE_URL`` (production cannot start without it), never from the request's
``Host`` header, which a client can forge and a shared cache would then keep. Only development without
``BASE_URL`` falls back to the request's address, as emails do.

A post's images are uploads referenced as ``media:12`` and served only through short-lived signed URLs.
A feed reader keeps an entry for months, so a feed never carries such a URL: each image becomes a link to
the post, labelled with its alt text.
"""
from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from blog import sanitize
from blog.exceptions import NotFound
from blog.extensions import db
from blog.i18n import _
from blog.models.post import Post, Tag, post_tags
from blog.models.user import User
from blog.services import media_display
from blog.services import posts as reading
from blog.services.notifications import external_url

FEED_ENTRIES = 20
# The sitemaps.org limit of URLs per file; ``SITEMAP_MAX_URLS`` in the app config overrides it.
SITEMAP_MAX_URLS = 50_000
# Part of every ETag: bump it when the feed markup changes, so readers fetch the new form.
FORMAT = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Characters XML 1.0 forbids even as references; a title holding one would make the whole feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# A start tag of sanitized HTML: attribute values are double-quoted and may hold ">" (bleach keeps it).
_START_TAG = re.compile(r'<[a-zA-Z][a-zA-Z0-9]*(?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*\s*/?>')
_URL_ATTRIBUTE = re.compile(r'(\s(?:href|src)=")([^"]*)(")')


def _now() -> datetime:
    return datetime.now(timezone.utc)


def xml_text(value: str | None) -> str:
    """``value`` without the characters XML cannot carry."""
    return _NOT_XML.sub("", value or "")


def w3c_datetime(value: datetime | None) -> str:
    """``2024-05-01T12:30:00Z``: the RFC 3339 form Atom and sitemaps require (UTC, whole seconds)."""
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


# ---- absolute URLs ------------------------------------------------------------------------------------

class Links:
    """Absolute URLs for endpoints, built on ``BASE_URL`` with one URL adapter (a sitemap builds 50,000)."""

    def __init__(self) -> None:
        base = current_app.config.get("BASE_URL")
        if base:
            parts = urlsplit(base)
            adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
            self._build: Callable[[str, dict], str] = (
                lambda endpoint, values: adapter.build(endpoint, values, force_external=True))
        else:  # development without BASE_URL: the request's own address, as in emails
            self._build = lambda endpoint, values: external_url(endpoint, **values)

    def __call__(self, endpoint: str, **values) -> str:
        return self._build(endpoint, values)

    @property
    def host(self) -> str:
        return urlsplit(self("public.index")).hostname or "localhost"


def absolute_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` (from ``BASE_URL``; see the module docstring)."""
    return Links()(endpoint, **values)


def _tag_uri(host: str, created: datetime, specific: str) -> str:
    """An RFC 4151 ``tag:`` URI: stays the same when a slug or username changes (no duplicate entries)."""
    return f"tag:{host},{created.astimezone(timezone.utc):%Y-%m-%d}:{specific}"


def absolute_html(body_html: str, *, base: str) -> str:
    """Sanitized HTML with each relative ``href`` and ``src`` resolved against ``base``.

    Works on the sanitizer's own serialization (double-quoted, escaped attribute values; text with ``<``
    and ``"`` escaped), so only real start tags are touched.
    """
    def attribute(match: re.Match) -> str:
        url = urljoin(base, html.unescape(match.group(2)).strip())
        return f"{match.group(1)}{html.escape(url, quote=True)}{match.group(3)}"

    return _START_TAG.sub(lambda tag: _URL_ATTRIBUTE.sub(attribute, tag.group(0)), body_html)


# ---- feeds --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    """What conditional GET compares: an ETag (opaque token) and the Last-Modified time."""

    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class Category:
    term: str
    label: str


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    url: str
    published: datetime
    updated: datetime
    author_name: str
    author_url: str | None
    summary: str
    content: str  # HTML, as text: the template escapes it into <content type="html">
    categories: list[Category]


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    subtitle: str
    language: str
    self_url: str
    alternate_url: str
    updated: datetime
    author_name: str
    author_url: str | None
    entries: list[Entry]


@dataclass
class FeedSource:
    """One feed before it is loaded: :meth:`version` is one aggregate query, :meth:`build` loads the entries."""

    where: sa.ColumnElement
    title: str
    subtitle: str
    endpoint: str
    values: dict
    alternate_endpoint: str
    feed_id: Callable[[Links], str]
    author_name: str
    author_endpoint: tuple[str, dict] | None = None
    join_tag: bool = False
    links: Links = field(default_factory=Links)

    def _join(self, stmt):
        return stmt.join(post_tags, post_tags.c.post_id == Post.id) if self.join_tag else stmt

    def version(self) -> Version:
        """Changes whenever the feed would: a post enters, leaves or is edited, an author is renamed."""
        row = db.session.execute(self._join(
            sa.select(sa.func.count(Post.id), sa.func.max(Post.updated_at), sa.func.max(Post.published_at),
                      sa.func.max(User.updated_at))
            .join(User, User.id == Post.author_id)
        ).where(self.where)).one()
        config = current_app.config
        token = repr((FORMAT, self.links("public.index"), config["SITE_NAME"], config["SITE_DESCRIPTION"],
                      config["BABEL_DEFAULT_LOCALE"], self.title,
                      *(v.isoformat() if isinstance(v, datetime) else v for v in row)))
        return Version(etag=hashlib.sha256(token.encode()).hexdigest()[:32],
                       last_modified=_latest(*row[1:]) or _EPOCH)

    def build(self) -> Feed:
        """The newest :data:`FEED_ENTRIES` posts with their authors and tags: two queries, three with images."""
        posts = list(db.session.scalars(self._join(
            sa.select(Post).options(joinedload(Post.author), selectinload(Post.tags))
        ).where(self.where).order_by(Post.published_at.desc(), Post.id.desc()).limit(FEED_ENTRIES)).unique())
        bodies = {post.id: _current_html(post) for post in posts}
        pictures = media_display.pictures(i for body in bodies.values() for i in media_display.ids_in(body))
        entries = [self._entry(post, bodies[post.id], pictures) for post in posts]
        links = self.links
        return Feed(
            id=self.feed_id(links),
            title=xml_text(self.title),
            subtitle=xml_text(self.subtitle),
            language=current_app.config["BABEL_DEFAULT_LOCALE"],
            self_url=links(self.endpoint, **self.values),
            alternate_url=links(self.alternate_endpoint, **self.values),
            updated=_latest(*(e.updated for e in entries)) or _EPOCH,
            author_name=xml_text(self.author_name),
            author_url=links(self.author_endpoint[0], **self.author_endpoint[1]) if self.author_endpoint else None,
            entries=entries,
        )

    def _entry(self, post: Post, body: str, pictures: dict) -> Entry:
        links = self.links
        url = links("public.post", slug=post.slug)

        def image_link(picture, alt: str, _index: int) -> str:
            label = _("Image: %(description)s", description=alt) if alt else _("Image")
            return f'<a href="{html.escape(url)}">{html.escape(xml_text(label))}</a>'

        content = absolute_html(media_display.replace_references(body, pictures, image_link), base=url)
        author = post.author
        return Entry(
            id=_tag_uri(links.host, post.created_at, f"post:{post.id}"),
            title=xml_text(post.title),
            url=url,
            published=post.published_at,
            updated=_latest(post.updated_at, post.published_at),
            author_name=xml_text(author.name),
            author_url=links("public.author", username=author.username) if author.status == "active" else None,
            summary=xml_text(post.excerpt),
            content=xml_text(content),
            categories=[Category(term=tag.slug, label=xml_text(tag.name)) for tag in post.tags],
        )


def _current_html(post: Post) -> str:
    """The stored sanitized HTML, or (for a row saved under an older sanitizer policy) a fresh rendering
    that is not saved: a GET does not write; the post page re-renders and saves it on its next view."""
    if post.sanitizer_version == sanitize.VERSION:
        return post.body_html or ""
    return sanitize.render_markdown(post.source, internal_hosts=current_app.config["INTERNAL_HOSTS"]).html


def site_feed(*, now: datetime | None = None) -> FeedSource:
    """The site's feed: the newest visible posts."""
    config = current_app.config
    return FeedSource(
        where=reading.visible(now or _now()),
        title=config["SITE_NAME"],
        subtitle=config["SITE_DESCRIPTION"],
        endpoint="feeds.site",
        values={},
        alternate_endpoint="public.index",
        feed_id=lambda links: links("public.index"),
        author_name=config["SITE_NAME"],
    )


def tag_feed(*, slug: str, now: datetime | None = None) -> FeedSource:
    """The feed of one tag. Raises NotFound for an unknown tag (a known tag without posts is an empty feed)."""
    tag = db.session.scalar(sa.select(Tag).where(Tag.slug == slug))
    if tag is None:
        raise NotFound(_("There is no such tag."))
    site = current_app.config["SITE_NAME"]
    return FeedSource(
        where=sa.and_(reading.visible(now or _now()), post_tags.c.tag_id == tag.id),
        join_tag=True,
        title=_("%(site)s: posts tagged “%(tag)s”", site=site, tag=tag.name),
        subtitle=_("The newest posts tagged “%(tag)s”.", tag=tag.name),
        endpoint="feeds.tag",
        values={"slug": tag.slug},
        alternate_endpoint="public.tag",
        feed_id=lambda links: _tag_uri(links.host, tag.created_at, f"tag:{tag.id}"),
        author_name=site,
    )


def author_feed(*, username: str, now: datetime | None = None) -> FeedSource:
    """The feed of one author. Raises NotFound for unknown and suspended users, like their profile page."""
    user = db.session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.lower(), User.status == "active")
    )
    if user is None:
        raise NotFound(_("There is no such author."))
    return FeedSource(
        where=sa.and_(reading.visible(now or _now()), Post.author_id == user.id),
        title=_("%(site)s: posts by %(author)s", site=current_app.config["SITE_NAME"], author=user.name),
        subtitle=_("The newest posts by %(author)s.", author=user.name),
        endpoint="feeds.author",
        values={"username": user.username},
        alternate_endpoint="public.author",
        feed_id=lambda links: _tag_uri(links.host, user.created_at, f"author:{user.id}"),
        author_name=user.name,
        author_endpoint=("public.author", {"username": user.username}),
    )


# ---- sitemap ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SitemapUrl:
    loc: str
    lastmod: datetime | None


@dataclass(frozen=True)
class SitemapIndex:
    sitemaps: list[str]  # absolute URLs of /sitemap-1.xml ...


def _max_urls() -> int:
    return max(1, int(current_app.config.get("SITEMAP_MAX_URLS", SITEMAP_MAX_URLS)))


def _sections(now: datetime):
    """``(statement, endpoint, url values from a row)`` per kind of address, each in a stable order.

    Every statement selects only the columns it needs (never ORM objects); the last columns of each
    row are the times whose latest is the address's ``lastmod``.
    """
    visible = reading.visible(now)
    last_change = (sa.func.max(Post.updated_at), sa.func.max(Post.published_at))
    home = sa.select(sa.literal(""), *last_change).where(visible)  # an aggregate: always exactly one row
    pages = (sa.select(Post.slug, Post.updated_at, Post.published_at)
             .where(Post.kind == "page", Post.status == "published", Post.published_at <= now).order_by(Post.id))
    posts = sa.select(Post.slug, Post.updated_at, Post.published_at).where(visible).order_by(Post.id)
    tags = (sa.select(Tag.slug, *last_change).join(post_tags, post_tags.c.tag_id == Tag.id)
            .join(Post, Post.id == post_tags.c.post_id).where(visible).group_by(Tag.id, Tag.slug).order_by(Tag.id))
    authors = (sa.select(User.username, *last_change, User.updated_at).join(Post, Post.author_id == User.id)
               .where(visible, User.status == "active")
               .group_by(User.id, User.username, User.updated_at).order_by(User.id))
    return [
        (home, "public.index", lambda row: {}),
        (pages, "pages.page", lambda row: {"slug": row[0]}),
        (posts, "public.post", lambda row: {"slug": row[0]}),
        (tags, "public.tag", lambda row: {"slug": row[0]}),
        (authors, "public.author", lambda row: {"username": row[0]}),
    ]


def _counts(sections) -> list[int]:
    """How many addresses each section has, in one statement."""
    counts = [sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery()
              for stmt, _endpoint, _values in sections]
    return list(db.session.execute(sa.select(*counts)).one())


def _urls(sections, counts: list[int], start: int, stop: int) -> list[SitemapUrl]:
    """The addresses at positions ``start`` to ``stop - 1`` of all sections in a row; one query per section
    the range touches."""
    links = Links()
    urls: list[SitemapUrl] = []
    offset = 0
    for (stmt, endpoint, values), count in zip(sections, counts):
        low, high = max(start - offset, 0), min(stop - offset, count)
        offset += count
        if low >= high:
            continue
        for row in db.session.execute(stmt.offset(low).limit(high - low)):
            urls.append(SitemapUrl(loc=links(endpoint, **values(row)), lastmod=_latest(*row[1:])))
    return urls


def sitemap(*, now: datetime | None = None) -> SitemapIndex | list[SitemapUrl]:
    """``/sitemap.xml``: every public address with its ``lastmod``, or past :data:`SITEMAP_MAX_URLS` an index
    of the numbered sitemaps that hold them."""
    sections = _sections(now or _now())
    counts = _counts(sections)
    limit, total = _max_urls(), sum(counts)
    if total <= limit:
        return _urls(sections, counts, 0, total)
    links = Links()
    return SitemapIndex([links("feeds.sitemap_page", page=n) for n in range(1, -(-total // limit) + 1)])


def sitemap_page(*, page: int, now: datetime | None = None) -> list[SitemapUrl]:
    """The addresses of numbered sitemap ``page`` (from 1). Raises NotFound past the last one."""
    sections = _sections(now or _now())
    counts = _counts(sections)
    limit, total = _max_urls(), sum(counts)
    if page < 1 or page > max(1, -(-total // limit)):
        raise NotFound(_("There is no such page."))
    return _urls(sections, counts, (page - 1) * limit, page * limit)
