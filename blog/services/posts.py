"""Posts and tags: the reading queries and the writing rules."""
from __future__ import annotations

from datetime import datetime, timezone

import logging

import sqlalchemy as sa
from flask import current_app
from slugify import slugify
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload, selectinload

from blog import permissions, sanitize
from blog.exceptions import InvalidInput, Moved, NotFound, PermissionDenied
from blog.extensions import db
from blog.jobs import related
from blog.i18n import _
from blog.models.post import Post, SlugRedirect, Tag, post_tags
from blog.models.user import User
from blog.services import accounts
from blog.services.pagination import Window, window

TITLE_MAX = 200
log = logging.getLogger(__name__)
SLUG_MAX = 200
TAG_MAX = 50


def _now() -> datetime:
    return datetime.now(timezone.utc)


def visible(now: datetime):
    """The reader's view: published posts whose time has come. Scheduled ones appear without a job."""
    return sa.and_(Post.kind == "post", Post.status == "published", Post.published_at <= now)


def _listing(where, *, page: int, join_tag: bool = False) -> Window:
    stmt = sa.select(Post).where(where).options(joinedload(Post.author), selectinload(Post.tags))
    if join_tag:
        stmt = stmt.join(post_tags, post_tags.c.post_id == Post.id)
    stmt = stmt.order_by(Post.published_at.desc(), Post.id.desc())
    return window(stmt, page=page, per_page=current_app.config["POSTS_PER_PAGE"])


def home_feed(*, page: int = 1, now: datetime | None = None):
    """Published posts newest first, paginated. Raises NotFound for a page out of range."""
    return _listing(visible(now or _now()), page=page)


def tag_feed(*, slug: str, page: int = 1, now: datetime | None = None):
    """``(tag, pagination)`` for a tag page. Raises NotFound for an unknown tag or page."""
    tag = db.session.scalar(sa.select(Tag).where(Tag.slug == slug))
    if tag is None:
        raise NotFound(_("There is no such tag."))
    where = sa.and_(visible(now or _now()), post_tags.c.tag_id == tag.id)
    return tag, _listing(where, page=page, join_tag=True)


def author_feed(*, username: str, page: int = 1, now: datetime | None = None):
    """``(author, pagination)`` for a profile page. Suspended users and unknown names are 404."""
    user = db.session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.lower(), User.status == "active")
    )
    if user is None:
        raise NotFound(_("There is no such author."))
    if user.bio and user.bio_sanitizer_version != sanitize.VERSION:  # an older policy's HTML: once, then saved
        accounts.render_bio(user)
        db.session.commit()
    where = sa.and_(visible(now or _now()), Post.author_id == user.id)
    return user, _listing(where, page=page)


def archive_months(*, now: datetime | None = None) -> list[tuple[int, int, int]]:
    """``(year, month, count)`` of published posts per month (UTC), newest month first."""
    year = sa.extract("year", Post.published_at)
    month = sa.extract("month", Post.published_at)
    rows = db.session.execute(
        sa.select(year.label("y"), month.label("m"), sa.func.count().label("n"))
        .where(visible(now or _now())).group_by("y", "m").order_by(sa.desc("y"), sa.desc("m"))
    )
    return [(int(y), int(m), n) for y, m, n in rows]


def month_feed(*, year: int, month: int, page: int = 1, now: datetime | None = None) -> Window:
    """Published posts of one month (UTC), newest first. NotFound for an impossible month."""
    if not (1 <= month <= 12 and 1970 <= year <= 9999):
        raise NotFound(_("There is no such month."))
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
    where = sa.and_(visible(now or _now()), Post.published_at >= start, Post.published_at < end)
    found = _listing(where, page=page)
    if not found.items:
        raise NotFound(_("Nothing was published that month."))
    return found


def post_for_reader(*, slug: str, viewer=None, kind: str = "post", now: datetime | None = None) -> Post:
    """The post (or page, with ``kind="page"``) at ``slug`` with its author and tags loaded.

    Raises NotFound for drafts, archived and scheduled posts unless ``viewer`` may edit it.
    Rows rendered by an older sanitizer policy are re-rendered once and saved.
    """
    post = db.session.execute(
        sa.select(Post)
        .where(Post.slug == slug, Post.kind == kind)
        # One statement for the post, its author and its tags; one more for its related posts.
        .options(joinedload(Post.author), joinedload(Post.tags), selectinload(Post.related))
    ).unique().scalar_one_or_none()
    if post is None:
        new_slug = moved_to(slug=slug, kind=kind, now=now)
        if new_slug:
            raise Moved(kind=kind, slug=new_slug)
    if post is None or not permissions.can_view_post(viewer, post, now=now or _now()):
        raise NotFound(_("There is no such post."))
    if post.sanitizer_version != sanitize.VERSION:
        render_body(post)
        db.session.commit()
    return post


def refresh_related() -> int:
    """Recompute every post's related list (after a bulk change or an upgrade); returns how many."""
    return related.refresh_all()


def moved_to(*, slug: str, kind: str = "post", now: datetime | None = None) -> str | None:
    """The current slug of a visible post that used to live at ``slug``, else ``None``."""
    return db.session.scalar(
        sa.select(Post.slug).join(SlugRedirect, SlugRedirect.post_id == Post.id)
        .where(SlugRedirect.old_slug == slug, Post.kind == kind, Post.status == "published",
               Post.published_at <= (now or _now()))
    )


def nav_pages(*, now: datetime | None = None) -> list[tuple[str, str]]:
    """``(title, slug)`` of the published pages shown in the site navigation, in their order.

    Every page's layout asks for them, the error page too: when the database fails, the layout goes
    without them rather than turning a clear error page into a bare one.
    """
    try:
        return [tuple(row) for row in db.session.execute(
            sa.select(Post.title, Post.slug)
            .where(Post.kind == "page", Post.status == "published", Post.published_at <= (now or _now()),
                   Post.nav_order.is_not(None))
            .order_by(Post.nav_order, Post.title)
        )]
    except SQLAlchemyError as exc:
        log.warning("navigation left out: the database failed (%s)", type(exc).__name__)
        forget_failed_transaction()
        return []


def forget_failed_transaction() -> None:
    """Roll back a session a failed statement left unusable (the error page still has to render)."""
    try:
        db.session.rollback()
    except SQLAlchemyError:  # the connection itself is gone: the next checkout gets a new one
        log.warning("rollback failed after a database error", exc_info=True)


def render_body(post: Post) -> sanitize.Rendered:
    """Render ``post.source`` into its HTML, sanitizer version and word count; returns the rendering."""
    rendered = sanitize.render_markdown(post.source, internal_hosts=current_app.config["INTERNAL_HOSTS"])
    post.body_html = rendered.html
    post.sanitizer_version = rendered.version
    post.word_count = rendered.word_count
    return rendered


def contains(column, text: str):
    """``column`` contains ``text`` ignoring case, with ``%``, ``_`` and ``\\`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def unique_slug(text: str, *, exclude_post_id: int | None = None) -> str:
    """A URL slug for ``text`` (Unicode transliterated) that no other post uses: ``title``, ``title-2``..."""
    base = slugify(text, max_length=SLUG_MAX, word_boundary=True) or "post"
    taken = set(
        db.session.scalars(
            sa.select(Post.slug).where(
                sa.or_(Post.slug == base, Post.slug.like(f"{base}-%")),
                Post.id != (exclude_post_id or 0),
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def normalize_tag_name(name: str) -> str:
    return " ".join(sanitize.clean_text(name).split())[:TAG_MAX]


def resolve_tags(names) -> list[Tag]:
    """Existing tags matched by slug, new ones created (not committed). Duplicates collapse."""
    by_slug: dict[str, str] = {}
    for raw in names:
        name = normalize_tag_name(raw)
        slug = slugify(name, max_length=60)
        if slug and slug not in by_slug:
            by_slug[slug] = name
    if not by_slug:
        return []
    existing = {t.slug: t for t in db.session.scalars(sa.select(Tag).where(Tag.slug.in_(by_slug)))}
    tags = []
    for slug, name in by_slug.items():
        tag = existing.get(slug)
        if tag is None:
            tag = Tag(name=name, slug=slug)
            db.session.add(tag)
        tags.append(tag)
    return tags


def create_post(
    *,
    actor: User,
    title: str,
    source: str,
    tags=(),
    excerpt: str = "",
    status: str = "draft",
    published_at: datetime | None = None,
    slug: str | None = None,
    kind: str = "post",
) -> Post:
    """Create a post written by ``actor``. Renders and sanitizes the Markdown. Commits.

    Raises PermissionDenied unless ``actor`` is an author (pages: an editor), InvalidInput for bad fields.
    """
    needed = "editor" if kind == "page" else "author"
    if not permissions.has_role(actor, needed):
        raise PermissionDenied(_("You may not write posts."))
    title = " ".join(sanitize.clean_text(title).split())
    source = sanitize.clean_text(source)
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("A title is required.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("The title must be at most %(max)d characters.", max=TITLE_MAX)]
    if status not in ("draft", "published", "archived"):
        errors["status"] = [_("Unknown status.")]
    if errors:
        raise InvalidInput(errors)
    if status == "published" and not permissions.can_publish(actor):
        raise PermissionDenied(_("Confirm your email address before publishing."))
    if status == "published" and published_at is None:
        published_at = _now()
    post = Post(
        kind=kind,
        author=actor,
        title=title,
        slug=unique_slug(slug or title),
        source=source or "",
        status=status,
        published_at=published_at,
        tags=resolve_tags(tags),
    )
    rendered = render_body(post)
    post.excerpt = sanitize.excerpt_from_text(excerpt) if excerpt.strip() else sanitize.excerpt_from_html(rendered.html)
    db.session.add(post)
    db.session.commit()
    return post
