"""Writing: saving posts and pages, publishing and scheduling, slugs and their redirects, revisions.

Every public function takes an explicit ``actor``, checks :mod:`blog.permissions`, and commits once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app
from slugify import slugify
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from blog import permissions, sanitize
from blog.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from blog.extensions import db
from blog.i18n import _
from blog.jobs import related
from blog.models.base import utcnow
from blog.models.post import Post, PostRevision, SlugRedirect, Tag, post_tags
from blog.models.user import User
from blog.services import media_display
from blog.services import posts as reading

TITLE_MAX = reading.TITLE_MAX
SLUG_MAX = reading.SLUG_MAX
EXCERPT_MAX = 500
SOURCE_MAX = 200_000
TAGS_MAX = 10
ACTIONS = ("save", "publish", "schedule")
STATES = ("draft", "scheduled", "published", "archived")
SORTS = ("updated", "published")
KEEP = object()  # Fields.featured_image_id when the caller does not change the featured image


def _now() -> datetime:
    return datetime.now(timezone.utc)


class EditConflict(Conflict):
    """The post changed since the editor loaded it; ``current`` is the newer version."""

    def __init__(self, current: Post):
        self.current = current
        super().__init__(_("Someone saved this post while you were editing it. Your text is kept below; "
                           "compare it with the newer version before saving again."))


@dataclass
class Fields:
    """What the editor submits (already shape-checked by the form)."""

    title: str = ""
    slug: str = ""
    source: str = ""
    excerpt: str = ""
    tags: str | list[str] = ""
    nav_order: int | None = None
    featured_image_id: object = KEEP  # an upload's id, None for none, or KEEP

    def tag_names(self) -> list[str]:
        raw = self.tags.split(",") if isinstance(self.tags, str) else self.tags
        return [name for name in (" ".join(t.split()) for t in raw) if name]


@dataclass
class PreviewPost:
    """A post as readers would see it, built for the preview and never saved."""

    title: str
    body_html: str
    kind: str
    author: User
    published_at: datetime
    word_count: int
    tags: list = field(default_factory=list)
    is_public: bool = True
    featured_image_id: int | None = None
    media_allowed: frozenset = frozenset()  # uploads the previewing actor may show

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.word_count / 230))


@dataclass(frozen=True)
class TagView:
    name: str
    slug: str


# ---- loading ----------------------------------------------------------------------------------------

def get_for_edit(*, actor, post_id: int) -> Post:
    """The post with its tags, when ``actor`` may edit it. Raises NotFound (also when they may not see it
    at all) or PermissionDenied (they can see it but not change it)."""
    post = db.session.scalar(
        sa.select(Post).where(Post.id == post_id).options(selectinload(Post.tags), joinedload(Post.author))
    )
    if post is None:
        raise NotFound(_("There is no such post."))
    if not permissions.can_edit_post(actor, post):
        raise PermissionDenied(_("You may not edit this post."))
    return post


def written_excerpt(post: Post) -> str:
    """The excerpt the author wrote, or "" when the stored one was made from the text: the editor shows
    it empty then, so saving a changed text makes a new excerpt instead of keeping the old one as if
    it had been written by hand."""
    generated = sanitize.excerpt_from_html(post.body_html or "")
    legacy = sanitize.excerpt_from_text(sanitize.to_text(post.body_html or ""))  # before tables were left out
    return "" if post.excerpt in (generated, legacy) else post.excerpt


def state_of(post: Post, now: datetime | None = None) -> str:
    """draft, scheduled, published or archived (scheduled: published with a future date)."""
    if post.status == "published" and post.published_at and post.published_at > (now or _now()):
        return "scheduled"
    return post.status


def list_posts(*, actor, kind: str = "post", scope: str = "mine", state: str | None = None, author: str | None = None,
               tag: str | None = None, q: str = "", sort: str = "updated", page: int = 1, per_page: int = 20):
    """The studio list. Authors see their own posts; editors may ask for everyone's (``scope="all"``).

    Filters: ``state``, ``author`` (username), ``tag`` (slug), ``q`` (words in the title), sorted by last
    change or publication date. Unknown filter values raise InvalidInput; pages out of range NotFound.
    """
    if not permissions.can_write(actor, kind):
        raise PermissionDenied(_("You may not write here."))
    errors = {}
    if state and state not in STATES:
        errors["state"] = [_("Unknown status.")]
    if sort not in SORTS:
        errors["sort"] = [_("Unknown sort order.")]
    if scope not in ("mine", "all"):
        errors["scope"] = [_("Unknown view.")]
    if errors:
        raise InvalidInput(errors)
    now = _now()
    stmt = sa.select(Post).where(Post.kind == kind).options(joinedload(Post.author), selectinload(Post.tags))
    if scope == "mine" or not permissions.can_see_all_posts(actor):
        stmt = stmt.where(Post.author_id == actor.id)
    elif author:
        stmt = stmt.join(User, User.id == Post.author_id).where(sa.func.lower(User.username) == author.lower())
    if state == "scheduled":
        stmt = stmt.where(Post.status == "published", Post.published_at > now)
    elif state == "published":
        stmt = stmt.where(Post.status == "published", Post.published_at <= now)
    elif state:
        stmt = stmt.where(Post.status == state)
    if tag:
        stmt = stmt.where(Post.id.in_(
            sa.select(post_tags.c.post_id).join(Tag, Tag.id == post_tags.c.tag_id).where(Tag.slug == tag)))
    words = (q or "").split()[:10]
    for word in words:
        stmt = stmt.where(reading.contains(Post.title, word[:100]))
    if sort == "published":
        stmt = stmt.order_by(Post.published_at.desc().nulls_last(), Post.id.desc())
    else:
        stmt = stmt.order_by(Post.updated_at.desc(), Post.id.desc())
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False, max_per_page=100)
    if page < 1 or (page > 1 and page > (pagination.pages or 1)):
        raise NotFound(_("There is no such page."))
    return pagination


# ---- checking and rendering -------------------------------------------------------------------------

def reserved_page_slugs(url_map) -> set[str]:
    """First path segments the app's own routes use: a page there would be unreachable."""
    return {rule.rule.strip("/").split("/", 1)[0].lower() for rule in url_map.iter_rules()} - {""}


def _check(fields: Fields, *, kind: str, post: Post | None) -> tuple[dict, str]:
    errors: dict[str, list[str]] = {}
    title = " ".join((fields.title or "").split())
    if not title:
        errors["title"] = [_("A title is required.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("Use at most %(max)d characters.", max=TITLE_MAX)]
    if len(fields.source or "") > SOURCE_MAX:
        errors["source"] = [_("Use at most %(max)d characters.", max=SOURCE_MAX)]
    if len(fields.excerpt or "") > EXCERPT_MAX:
        errors["excerpt"] = [_("Use at most %(max)d characters.", max=EXCERPT_MAX)]
    names = [sanitize.clean_text(n) for n in fields.tag_names()]
    if len(names) > TAGS_MAX:
        errors["tags"] = [_("Use at most %(max)d tags.", max=TAGS_MAX)]
    elif any(len(n) > reading.TAG_MAX or not slugify(n) for n in names):
        errors["tags"] = [_("Each tag needs letters or digits and at most %(max)d characters.", max=reading.TAG_MAX)]
    slug = slugify(fields.slug or title, max_length=SLUG_MAX, word_boundary=True)
    if fields.slug and not slugify(fields.slug):
        errors["slug"] = [_("Use letters, digits and hyphens.")]
    elif slug:
        if not fields.slug:
            slug = reading.unique_slug(title, exclude_post_id=post.id if post else None)
        elif _slug_taken(slug, post):
            errors["slug"] = [_("Another post uses this address. Choose another.")]
        if kind == "page" and slug in reserved_page_slugs(current_app.url_map):
            errors["slug"] = [_("The site uses this address itself. Choose another.")]
    return errors, slug


def _slug_taken(slug: str, post: Post | None) -> bool:
    other_post = db.session.scalar(sa.select(Post.id).where(Post.slug == slug))
    if other_post is not None and (post is None or other_post != post.id):
        return True
    redirect_owner = db.session.scalar(sa.select(SlugRedirect.post_id).where(SlugRedirect.old_slug == slug))
    return redirect_owner is not None and (post is None or redirect_owner != post.id)


def _apply(post: Post, fields: Fields, slug: str) -> bool:
    """Copy the fields onto ``post``; True when the title or the body changed (a revision is due)."""
    title = " ".join(sanitize.clean_text(fields.title).split())
    fields.source = sanitize.clean_text(fields.source)
    fields.excerpt = sanitize.clean_text(fields.excerpt)
    changed = post.title != title or post.source != (fields.source or "")
    if post.slug and slug != post.slug:
        _move_slug(post, slug)
    post.title = title
    post.slug = slug
    post.source = fields.source or ""
    rendered = reading.render_body(post)
    excerpt = " ".join((fields.excerpt or "").split())
    post.excerpt = excerpt if excerpt else sanitize.excerpt_from_html(rendered.html)
    tags_before = {tag.slug for tag in post.tags}
    post.tags = reading.resolve_tags(fields.tag_names())
    if post.id is not None and {tag.slug for tag in post.tags} != tags_before:
        post.updated_at = utcnow()  # only the link table changed: feeds and the sitemap still see an edit
    if post.kind == "page":
        post.nav_order = fields.nav_order
    if fields.featured_image_id is not KEEP:
        post.featured_image_id = fields.featured_image_id
    return changed


def _move_slug(post: Post, new_slug: str) -> None:
    """Keep the old address of a post readers may have seen; drop a redirect the post takes back."""
    db.session.execute(sa.delete(SlugRedirect).where(SlugRedirect.old_slug == new_slug,
                                                     SlugRedirect.post_id == post.id))
    if post.published_at is not None:
        db.session.add(SlugRedirect(old_slug=post.slug, post_id=post.id))


def _revise(post: Post, actor) -> None:
    db.session.add(PostRevision(post=post, editor_id=actor.id, title=post.title, source=post.source))


def local_to_utc(local: datetime, tz_name: str) -> datetime:
    """Interpret a wall-clock time in ``tz_name``. Raises InvalidInput for a time that does not exist
    there (skipped by a spring DST change); an autumn time that occurs twice means the first one."""
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput({"publish_at": [_("Unknown time zone.")]}) from exc
    aware = local.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(timezone.utc)
    if utc.astimezone(zone).replace(tzinfo=None) != local:
        raise InvalidInput({"publish_at": [
            _("%(time)s does not exist in %(zone)s: the clocks skip it. Choose another time.",
              time=local.strftime("%Y-%m-%d %H:%M"), zone=tz_name)]})
    return utc


def _timezone_of(actor) -> str:
    return getattr(actor, "timezone", None) or current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _set_state(post: Post, actor, action: str, publish_at: datetime | None, now: datetime) -> None:
    if action == "save":
        return
    if not permissions.can_publish_post(actor, post):
        raise PermissionDenied(_("Confirm your email address before publishing.") if not getattr(
            actor, "is_confirmed", True) else _("You may not publish this post."))
    if action == "publish":
        if post.status != "published" or post.published_at is None or post.published_at > now:
            post.published_at = now
        post.status = "published"
    elif action == "schedule":
        if publish_at is None:
            raise InvalidInput({"publish_at": [_("Choose a date and time to publish.")]})
        when = local_to_utc(publish_at, _timezone_of(actor))
        if when <= now:
            raise InvalidInput({"publish_at": [_("Choose a time in the future, or publish now.")]})
        post.status, post.published_at = "published", when


# ---- writing ----------------------------------------------------------------------------------------

def save(*, actor, fields: Fields, post_id: int | None = None, base_version: int | None = None,
         kind: str = "post", action: str = "save", publish_at: datetime | None = None,
         now: datetime | None = None) -> Post:
    """Create (``post_id=None``) or update a post, then optionally publish or schedule it, in one commit.

    ``base_version`` is the version the editor loaded: an update based on an older one raises
    EditConflict (nothing is saved). ``publish_at`` is a naive wall-clock time in the actor's time zone.
    A change to the title or body stores a revision; a new slug on a post that was ever published keeps
    the old one as a redirect. Raises PermissionDenied, NotFound, InvalidInput (per field).
    """
    now = now or _now()
    if action not in ACTIONS:
        raise InvalidInput({"_": [_("Unknown action.")]})
    if post_id is None:
        require_writer(actor=actor, kind=kind)
        post = Post(kind=kind, author_id=actor.id, status="draft", source="", title="", slug="")
    else:
        post = get_for_edit(actor=actor, post_id=post_id)
        if base_version is not None and post.version != base_version:
            raise EditConflict(post)
    errors, slug = _check(fields, kind=post.kind, post=post if post_id else None)
    if errors:
        raise InvalidInput(errors)
    with db.session.no_autoflush:
        listed_before = _listing_state(post) if post_id else None
        used_before = media_display.ids_used_by(post) if post_id else set()
        changed = _apply(post, fields, slug)
        _set_state(post, actor, action, publish_at, now)
        errors = media_display.post_errors(actor=actor, post=post, already_used=used_before,
                                           publishing=post.status == "published")
    if errors:
        db.session.rollback()  # the editor shows the stored post again beside the submitted text
        raise InvalidInput(errors)
    if post_id is None:
        db.session.add(post)
    if changed or post_id is None:
        _revise(post, actor)
    return _commit(post, refresh_related=_listing_state(post) != listed_before)


def require_writer(*, actor, kind: str) -> None:
    """Raise PermissionDenied unless ``actor`` may write a new ``kind`` (posts: authors; pages: editors)."""
    if not permissions.can_write(actor, kind):
        raise PermissionDenied(_("You may not write here."))


def _listing_state(post: Post):
    """What related-post lists depend on: whether the post is listed, when, and its tags."""
    if post.kind != "post" or post.status != "published":
        return None
    return post.published_at, frozenset(tag.slug for tag in post.tags)


def _commit(post: Post, *, refresh_related: bool = False) -> Post:
    try:
        db.session.commit()
    except StaleDataError as exc:  # another save won the race between our check and our UPDATE
        db.session.rollback()
        raise EditConflict(db.session.get(Post, post.id, populate_existing=True)) from exc
    if refresh_related:
        related.schedule(post.id)
    return post


def _transition(actor, post_id: int, *, status: str, published_at, check=permissions.can_publish_post) -> Post:
    post = get_for_edit(actor=actor, post_id=post_id)
    if not check(actor, post):
        raise PermissionDenied(_("You may not change the status of this post."))
    listed_before = _listing_state(post)
    post.status = status
    if published_at is not _KEEP:
        post.published_at = published_at
    return _commit(post, refresh_related=_listing_state(post) != listed_before)


_KEEP = object()


def unpublish(*, actor, post_id: int) -> Post:
    """Back to draft: readers no longer see it (a scheduled post is unscheduled). Commits."""
    return _transition(actor, post_id, status="draft", published_at=None)


def archive(*, actor, post_id: int) -> Post:
    """Hide a post from readers but keep it apart from drafts. Commits."""
    return _transition(actor, post_id, status="archived", published_at=_KEEP)


def restore_from_archive(*, actor, post_id: int) -> Post:
    """An archived post becomes a draft again. Commits."""
    return _transition(actor, post_id, status="draft", published_at=None)


def delete(*, actor, post_id: int) -> str:
    """Delete a post with its revisions, comments and redirects. Commits. Returns its title."""
    post = get_for_edit(actor=actor, post_id=post_id)
    if not permissions.can_delete_post(actor, post):
        raise PermissionDenied(_("You may not delete this post."))
    title = post.title
    showing = related.lists_showing(post.id)
    db.session.delete(post)
    db.session.commit()
    if showing:
        related.schedule(post_id, showing)
    return title


def preview(*, actor, fields: Fields, kind: str = "post", now: datetime | None = None) -> PreviewPost:
    """Render what readers would see, through the same sanitizer, without saving anything."""
    if not permissions.can_write(actor, kind):
        raise PermissionDenied(_("You may not write here."))
    rendered = sanitize.render_markdown((fields.source or "")[:SOURCE_MAX],
                                        internal_hosts=current_app.config["INTERNAL_HOSTS"])
    tags = [TagView(name=n, slug=slugify(n)) for n in fields.tag_names()[:TAGS_MAX] if slugify(n)]
    featured = fields.featured_image_id if isinstance(fields.featured_image_id, int) else None
    allowed = media_display.allowed_ids(actor, [*media_display.ids_in(rendered.html), featured])
    return PreviewPost(title=" ".join((fields.title or "").split()) or _("Untitled"), body_html=rendered.html,
                       kind=kind, author=actor, published_at=now or _now(), word_count=rendered.word_count,
                       tags=tags, featured_image_id=featured, media_allowed=allowed)
