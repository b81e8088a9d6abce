"""Media on pages: pictures with their srcsets, post Markdown references, and the rules posts follow.

A post's Markdown points at an upload as ``![alt](media:12)``; the sanitized HTML keeps
``<img src="media:12">`` and pages swap it for a ``<picture>`` when they render, so a stored post never
holds an expiring URL. Read URLs come from the storage backend and are identical within its time window.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable

import sqlalchemy as sa

from blog import permissions
from blog.extensions import db
from blog.i18n import _
from blog.models.media import Media
from blog.storage import get_storage

REFERENCE = re.compile(r"^media:([1-9][0-9]{0,17})$")
_IMG = re.compile(r"<img\b[^>]*>")
_ATTR = re.compile(r'([a-zA-Z-]+)="([^"]*)"')
PLACEHOLDER_WIDTH, PLACEHOLDER_HEIGHT = 1600, 900
CHOICES_MAX = 200


def reference(media_id: int) -> str:
    return f"media:{media_id}"


class Picture:
    """What a page needs to show one upload: srcsets per format, a fallback, and its size.

    Without variants (pending, processing, failed, or deleted: ``missing``) pages show a placeholder
    of the right size instead. URLs are made on first use only.
    """

    def __init__(self, media: Media | None, media_id: int | None = None):
        self.media = media
        self.id = media.id if media else media_id
        self.missing = media is None
        self.status = media.status if media else "missing"
        self.alt = media.alt_text if media else ""
        self._variants = (media.variants or {}) if media else {}

    def _entries(self, fmt: str) -> list[dict]:
        return sorted(self._variants.get(fmt, {}).values(), key=lambda entry: entry["width"])

    @property
    def has_variants(self) -> bool:
        return bool(self._entries("jpeg")) and bool(self._entries("webp"))

    @property
    def width(self) -> int:
        entries = self._entries("jpeg")
        if entries:
            return entries[-1]["width"]
        return (self.media.width if self.media and self.media.width else None) or PLACEHOLDER_WIDTH

    @property
    def height(self) -> int:
        entries = self._entries("jpeg")
        if entries:
            return entries[-1]["height"]
        if self.media and self.media.width and self.media.height:
            return self.media.height
        return PLACEHOLDER_HEIGHT

    def _srcset(self, fmt: str) -> str:
        storage = get_storage()
        return ", ".join(f"{storage.url_for_read(e['key'])} {e['width']}w" for e in self._entries(fmt))

    @cached_property
    def webp_srcset(self) -> str:
        return self._srcset("webp")

    @cached_property
    def jpeg_srcset(self) -> str:
        return self._srcset("jpeg")

    @cached_property
    def fallback_url(self) -> str | None:
        """The JPEG for browsers without srcset: the largest up to 1024 pixels wide."""
        entries = self._entries("jpeg")
        if not entries:
            return None
        fitting = [e for e in entries if e["width"] <= 1024] or entries[:1]
        return get_storage().url_for_read(fitting[-1]["key"])

    @cached_property
    def share_image(self) -> dict | None:
        """``{url, width, height}`` of the JPEG link previews use (OpenGraph): the largest up to 1600 px."""
        entries = self._entries("jpeg")
        if not entries:
            return None
        entry = ([e for e in entries if e["width"] <= 1600] or entries[:1])[-1]
        return {"url": get_storage().url_for_read(entry["key"]), "width": entry["width"],
                "height": entry.get("height")}

    def _square(self, fmt: str) -> str | None:
        entry = self._variants.get("square", {}).get(fmt)
        return get_storage().url_for_read(entry["key"]) if entry else None

    @cached_property
    def square_url(self) -> str | None:
        return self._square("jpeg")

    @cached_property
    def square_webp_url(self) -> str | None:
        return self._square("webp")

    @property
    def square_size(self) -> int:
        entry = self._variants.get("square", {}).get("jpeg")
        return entry["width"] if entry else 0


def picture(media: Media | None) -> Picture:
    return Picture(media)


def pictures(ids: Iterable[int]) -> dict[int, Picture]:
    """Pictures for ``ids`` in one query (none when there are no ids); unknown ids map to ``missing``."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    found = {m.id: m for m in db.session.scalars(sa.select(Media).where(Media.id.in_(wanted)))}
    return {i: Picture(found.get(i), media_id=i) for i in wanted}


@dataclass(frozen=True)
class ImageTag:
    start: int
    end: int
    src: str
    alt: str
    media_id: int | None


def image_tags(body_html: str) -> list[ImageTag]:
    """The ``<img>`` tags of sanitized HTML, with the upload each one references (if any)."""
    tags = []
    for match in _IMG.finditer(body_html or ""):
        attrs = {name.lower(): html.unescape(value) for name, value in _ATTR.findall(match.group(0))}
        ref = REFERENCE.match(attrs.get("src", ""))
        tags.append(ImageTag(match.start(), match.end(), attrs.get("src", ""), attrs.get("alt", "").strip(),
                             int(ref.group(1)) if ref else None))
    return tags


def ids_in(body_html: str) -> list[int]:
    return [t.media_id for t in image_tags(body_html) if t.media_id]


def ids_used_by(post) -> set[int]:
    """Uploads ``post`` shows now: its featured image and the references in its text."""
    used = set(ids_in(getattr(post, "body_html", "") or ""))
    featured = getattr(post, "featured_image_id", None)
    return used | ({featured} if featured else set())


def for_post(post) -> dict[int, Picture]:
    """Every picture one post shows, in one query. A post object with ``media_allowed`` (a preview)
    shows only those; the others look missing."""
    found = pictures(ids_used_by(post))
    allowed = getattr(post, "media_allowed", None)
    if allowed is not None:
        found = {i: (pic if i in allowed else Picture(None, media_id=i)) for i, pic in found.items()}
    return found


def for_posts(posts: Iterable) -> dict[int, Picture]:
    """The featured pictures of a list of posts, in one query (none when no post has one)."""
    return pictures(getattr(p, "featured_image_id", None) for p in posts)


def replace_references(body_html: str, found: dict[int, Picture], render: Callable[[Picture, str, int], str]) -> str:
    """``body_html`` with each referencing ``<img>`` replaced by ``render(picture, alt, index)``.

    ``alt`` is the text written in the post, else the upload's own alt text. ``render`` must return
    escaped markup (a Jinja macro does); everything else is the stored, sanitized HTML.
    """
    out, last = [], 0
    for index, tag in enumerate(t for t in image_tags(body_html) if t.media_id):
        pic = found.get(tag.media_id) or Picture(None, media_id=tag.media_id)
        out += [body_html[last:tag.start], str(render(pic, tag.alt or pic.alt, index))]
        last = tag.end
    out.append(body_html[last:])
    return "".join(out)


# ---- rules for posts ----------------------------------------------------------------------------------

def _may_use(actor, media: Media, already_used: set[int]) -> bool:
    return media.owner_id == getattr(actor, "id", None) or permissions.has_role(actor, "editor") \
        or media.id in already_used


def post_errors(*, actor, post, already_used: set[int], publishing: bool) -> dict[str, list[str]]:
    """Problems with the images of ``post`` as it is about to be saved, per form field.

    Each referenced upload must exist and be the actor's (editors: anyone's), unless the post showed
    it already. A post that is or becomes published needs alt text on every image: written in the
    Markdown or set on the upload in the library; the featured image needs the latter.
    """
    tags = image_tags(post.body_html)
    featured = post.featured_image_id
    ids = {t.media_id for t in tags if t.media_id} | ({featured} if featured else set())
    rows = {m.id: m for m in db.session.scalars(sa.select(Media).where(Media.id.in_(ids)))} if ids else {}
    errors: dict[str, list[str]] = {}
    for tag in tags:
        if tag.media_id is None:
            continue
        media = rows.get(tag.media_id)
        if media is None:
            errors.setdefault("source", []).append(_("There is no image %(ref)s.", ref=reference(tag.media_id)))
        elif not _may_use(actor, media, already_used):
            errors.setdefault("source", []).append(
                _("Image %(ref)s is not in your media library.", ref=reference(tag.media_id)))
    if featured:
        media = rows.get(featured)
        if media is None or not _may_use(actor, media, already_used):
            errors["featured_image"] = [_("Choose an image from your media library.")]
    if errors or not publishing:
        return errors
    lacking = [tag.src for tag in tags if not (tag.alt or (tag.media_id and rows[tag.media_id].alt_text))]
    if lacking:
        errors["source"] = [_("Describe every image before publishing: add alt text to %(images)s (write it "
                              "between the brackets of ![…](…), or set it in the media library).",
                              images=", ".join(lacking[:5]))]
    if featured and not rows[featured].alt_text:
        errors["featured_image"] = [_("The featured image needs alt text before publishing: set it in the media "
                                      "library.")]
    return errors


def allowed_ids(actor, ids: Iterable[int]) -> frozenset[int]:
    """Of ``ids``, the uploads the actor may show (previews show the others as missing)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return frozenset()
    rows = db.session.scalars(sa.select(Media).where(Media.id.in_(wanted)))
    return frozenset(m.id for m in rows if _may_use(actor, m, set()))


def choices(*, actor, include: int | None = None) -> list[tuple[int, str]]:
    """``(id, label)`` of the uploads the actor may pick as a featured image, newest first."""
    stmt = sa.select(Media).order_by(Media.created_at.desc(), Media.id.desc()).limit(CHOICES_MAX)
    stmt = stmt.where(sa.or_(Media.owner_id == getattr(actor, "id", None), Media.id == (include or 0)))
    return [(m.id, f"{reference(m.id)} · {m.alt_text or m.original_filename or _('(no description)')}"[:120])
            for m in db.session.scalars(stmt)]
