"""Media: uploads (through the app or straight to storage), the library, alt text, deletion, avatars.

Every public function takes an explicit ``actor`` and commits once; processing is enqueued after the
commit (:func:`blog.jobs.images.schedule`). Storage keys are made here (owner id / random id / name),
never from a file name. Reading for pages lives in :mod:`blog.services.media_display`.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from blog import imaging, permissions, sanitize
from blog.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from blog.extensions import db
from blog.i18n import _
from blog.jobs import images
from blog.models.media import Media
from blog.models.post import Post
from blog.services import media_display
from blog.storage import get_storage
from blog.storage.base import DirectUploadStorage, ObjectMissing, StorageError

log = logging.getLogger(__name__)
ALT_MAX = 300
FILENAME_MAX = 255
PER_PAGE = 24


def rejection_message(code: str, params: dict | None = None) -> str:
    """The reader-facing sentence for an :class:`~blog.imaging.ImageRejected` code or a job failure."""
    params = params or {}
    messages = {
        "empty": _("The file is empty."),
        "too_large": _("The file is larger than %(limit)s MB.", limit=imaging.MAX_BYTES // (1024 * 1024)),
        "too_many_pixels": _("The image has more than %(limit)s megapixels.", limit=imaging.MAX_PIXELS // 1_000_000),
        "unsupported_type": _("Upload a JPEG, PNG, WebP or GIF image."),
        "not_image": _("This file is not a JPEG, PNG, WebP or GIF image."),
        "foreign": _("This is a %(kind)s file, not an image. Upload a JPEG, PNG, WebP or GIF image.",
                     kind=params.get("kind", "?")),
        "type_mismatch": _("The file says it is %(claimed)s but its contents are %(found)s. Save it again in "
                           "the right format.", claimed=params.get("claimed", "?"), found=params.get("found", "?")),
        "truncated": _("The file is incomplete (cut off before the end of the image). Upload it again."),
        "trailing_data": _("The file has extra data after the image (such as a motion photo's video). Export it "
                           "again as a plain image."),
        "active_content": _("The file contains web page, script or PDF content hidden in the image; it is refused."),
        "corrupt": _("The image is damaged and cannot be read."),
        "missing_original": _("The uploaded file is missing from storage. Upload it again."),
        "timeout": _("Processing took too long. Try a smaller image."),
        "error": _("Processing failed. Try again later."),
        "not_uploaded": _("The upload did not reach the storage. Try again."),
    }
    return messages.get(code, messages["error"])


def failure_text(media: Media) -> str:
    return rejection_message(media.failure_reason or "error") if media.status == "failed" else ""


def _refused(exc: imaging.ImageRejected, field: str = "file") -> InvalidInput:
    return InvalidInput({field: [rejection_message(exc.code, exc.params)]})


def can_use_library(actor) -> bool:
    return permissions.has_role(actor, "author")


def _require_library(actor) -> None:
    if not can_use_library(actor):
        raise PermissionDenied(_("Only authors, editors and admins have a media library."))


def _new_key(owner_id: int) -> str:
    return f"{owner_id}/{secrets.token_hex(16)}/original"


def _filename(name: str | None) -> str:
    name = sanitize.clean_text(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return " ".join(name.split())[:FILENAME_MAX]


def _alt(text: str | None) -> str:
    return " ".join(sanitize.clean_text(text).split())[:ALT_MAX]


def _read_limited(stream: BinaryIO) -> bytes:
    data = stream.read(imaging.MAX_BYTES + 1)
    try:
        imaging.check_size(len(data))
    except imaging.ImageRejected as exc:
        raise _refused(exc) from exc
    return data


def _storage_unavailable() -> InvalidInput:
    return InvalidInput({"file": [_("The image could not be stored just now. Try again in a moment.")]})


def _store(actor, stream: BinaryIO, filename: str | None, content_type: str | None, alt_text: str = "") -> Media:
    data = _read_limited(stream)
    try:
        fmt, width, height = imaging.inspect(data, content_type or "")
    except imaging.ImageRejected as exc:
        raise _refused(exc) from exc
    key = _new_key(actor.id)
    # The original is stored as an attachment: only the re-encoded variants are ever served inline.
    try:
        get_storage().put(key, data, content_type=imaging.FORMATS[fmt], inline=False)
    except StorageError as exc:
        log.warning("could not store an upload: %s", exc)
        raise _storage_unavailable() from exc
    media = Media(owner_id=actor.id, storage_key=key, content_type=imaging.FORMATS[fmt], size=len(data),
                  width=width, height=height, status="uploaded", variants={}, original_filename=_filename(filename),
                  alt_text=_alt(alt_text))
    db.session.add(media)
    return media


def upload(*, actor, stream: BinaryIO, filename: str | None, content_type: str | None, alt_text: str = "") -> Media:
    """Store an image sent through the app, commit its row (``uploaded``), then enqueue processing.

    Refuses (InvalidInput on ``file``) anything but a JPEG, PNG, WebP or GIF within the size and pixel
    limits whose bytes match ``content_type``; truncated files and polyglots too. PermissionDenied
    unless ``actor`` is an author or above. An object written before a failed commit is an orphan
    that ``flask media orphans`` removes.
    """
    _require_library(actor)
    media = _store(actor, stream, filename, content_type, alt_text)
    db.session.commit()
    images.schedule(media.id)
    return media


def upload_avatar(*, actor, stream: BinaryIO, filename: str | None, content_type: str | None) -> Media:
    """Store an image as ``actor``'s avatar (any signed-in user). Commits, then enqueues processing."""
    if not permissions.has_role(actor, "reader"):
        raise PermissionDenied(_("Sign in to change your avatar."))
    media = _store(actor, stream, filename, content_type, alt_text=actor.name)
    db.session.flush()
    actor.avatar_id = media.id
    db.session.commit()
    images.schedule(media.id)
    return media


def remove_avatar(*, actor) -> None:
    """Stop showing an avatar; the image stays in the owner's uploads. Commits."""
    actor.avatar_id = None
    db.session.commit()


# ---- uploads straight to storage ----------------------------------------------------------------------

@dataclass(frozen=True)
class DirectUpload:
    media: Media
    url: str
    fields: dict[str, str]


def direct_uploads_available() -> bool:
    return isinstance(get_storage(), DirectUploadStorage)


def start_direct_upload(*, actor, filename: str | None, content_type: str | None, size: int | None,
                        alt_text: str = "") -> DirectUpload:
    """Create a ``pending`` row and a short-lived form that lets the browser upload the file itself.

    The form only accepts ``content_type`` and at most the size limit. Commits. Raises InvalidInput
    (type, size, or a backend without direct uploads) or PermissionDenied.
    """
    _require_library(actor)
    storage = get_storage()
    if not isinstance(storage, DirectUploadStorage):
        raise InvalidInput({"file": [_("Direct uploads are not available here; use the upload form.")]})
    content_type = (content_type or "").lower()
    try:
        if content_type not in imaging.CONTENT_TYPES:
            raise imaging.ImageRejected("unsupported_type")
        imaging.check_size(int(size or 0))
    except imaging.ImageRejected as exc:
        raise _refused(exc) from exc
    media = Media(owner_id=actor.id, storage_key=_new_key(actor.id), content_type=content_type, status="pending",
                  variants={}, original_filename=_filename(filename), alt_text=_alt(alt_text))
    db.session.add(media)
    db.session.commit()
    try:  # storage will take exactly this type and at most the size the browser announced
        form = storage.presigned_upload(media.storage_key, content_type=content_type, max_size=int(size))
    except StorageError as exc:
        log.warning("could not sign a direct upload: %s", exc)
        raise InvalidInput({"file": [_("Direct uploads are not available just now; use the upload form.")]}) from exc
    return DirectUpload(media=media, url=form["url"], fields=form["fields"])


def _discard(media: Media) -> None:
    key = media.storage_key
    db.session.delete(media)
    db.session.commit()
    get_storage().delete(key)


def finish_direct_upload(*, actor, media_id: int) -> Media:
    """The browser says the upload is done: check the object (size, type, first bytes), mark the row
    ``uploaded``, commit, then enqueue processing. A refused file is deleted with its row (InvalidInput).
    Storage unreachable: InvalidInput, and the row stays ``pending`` so the same call can be repeated."""
    media = get(actor=actor, media_id=media_id)
    if media.status != "pending":
        return media  # a repeated "done" (double click, retry): nothing more to do
    storage = get_storage()
    try:
        info = storage.head(media.storage_key)
        if info.content_type.lower() != media.content_type:
            raise imaging.ImageRejected("unsupported_type")
        stream = storage.open(media.storage_key)
        try:
            head = stream.read(imaging.PREFIX_BYTES)
        finally:
            stream.close()
        imaging.check_prefix(head, media.content_type, info.size)
    except ObjectMissing as exc:
        raise InvalidInput({"file": [rejection_message("not_uploaded")]}) from exc
    except StorageError as exc:  # after ObjectMissing, its subclass
        log.warning("could not check a direct upload: %s", exc)
        raise _storage_unavailable() from exc
    except imaging.ImageRejected as exc:
        _discard(media)
        raise _refused(exc) from exc
    media.size, media.status = info.size, "uploaded"
    db.session.commit()
    images.schedule(media.id)
    return media


# ---- the library --------------------------------------------------------------------------------------

def get(*, actor, media_id: int) -> Media:
    """One upload, for its owner, editors and admins. Raises NotFound (also when not theirs)."""
    media = db.session.get(Media, media_id)
    if media is None or not (media.owner_id == getattr(actor, "id", None) or permissions.has_role(actor, "editor")):
        raise NotFound(_("There is no such image."))
    return media


def list_media(*, actor, scope: str = "mine", page: int = 1, per_page: int = PER_PAGE):
    """Uploads newest first: the actor's own, or everyone's (``scope="all"``, editors and admins)."""
    _require_library(actor)
    if scope not in ("mine", "all"):
        raise InvalidInput({"scope": [_("Unknown view.")]})
    stmt = sa.select(Media).options(joinedload(Media.owner)).order_by(Media.created_at.desc(), Media.id.desc())
    if scope == "mine" or not permissions.has_role(actor, "editor"):
        stmt = stmt.where(Media.owner_id == actor.id)
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False, max_per_page=100)
    if page < 1 or (page > 1 and page > (pagination.pages or 1)):
        raise NotFound(_("There is no such page."))
    return pagination


def set_alt_text(*, actor, media_id: int, alt_text: str) -> Media:
    """Describe the image for people who cannot see it. Commits. InvalidInput when too long."""
    media = get(actor=actor, media_id=media_id)
    alt_text = " ".join(sanitize.clean_text(alt_text).split())
    if len(alt_text) > ALT_MAX:
        raise InvalidInput({"alt_text": [_("Use at most %(max)d characters.", max=ALT_MAX)]})
    media.alt_text = alt_text
    db.session.commit()
    return media


def _using(media_id: int):
    return sa.or_(Post.featured_image_id == media_id,
                  Post.body_html.contains(f'src="{media_display.reference(media_id)}"'))


def usages(media_id: int) -> list[Post]:
    """Posts and pages that show the image (featured or in their text), published ones first."""
    posts = db.session.scalars(sa.select(Post).where(_using(media_id)).order_by(Post.title))
    return sorted(posts, key=lambda p: p.status != "published")


def delete(*, actor, media_id: int) -> str:
    """Delete an upload and every stored object of it; returns its file name. Commits.

    Raises Conflict, naming the posts, while a published (or scheduled) post shows it. Drafts that
    use it show a placeholder afterwards.
    """
    media = get(actor=actor, media_id=media_id)
    published = [p for p in usages(media.id) if p.status == "published"]
    if published:
        raise Conflict(_("This image is used by published posts: %(titles)s. Remove it from them first.",
                         titles=", ".join(f"“{p.title}”" for p in published)))
    name, prefix = media.original_filename or media_display.reference(media.id), media.key_prefix + "/"
    db.session.delete(media)
    db.session.commit()
    storage = get_storage()
    try:
        for stored in list(storage.iter_objects(prefix)):
            storage.delete(stored.key)
    except StorageError:  # the row is gone; leftovers are orphans for `flask media orphans`
        pass
    return name


def status(*, actor, media_id: int) -> dict:
    """What the library's script polls: status, a reason when failed, and the thumbnail once ready."""
    media = get(actor=actor, media_id=media_id)
    picture = media_display.picture(media)
    return {"id": media.id, "status": media.status, "message": failure_text(media),
            "thumbnail": picture.square_url if picture.has_variants else None}


# ---- reading through the local backend's signed URLs ---------------------------------------------------

@dataclass
class SignedRead:
    stream: BinaryIO
    content_type: str
    inline: bool
    seconds_left: int


def open_signed(*, key: str, expires: str, signature: str) -> SignedRead:
    """Open ``key`` for a URL made by the local backend's ``url_for_read``.

    Raises PermissionDenied for a missing, tampered or expired signature (or a backend that serves
    its own URLs), NotFound when the object is gone.
    """
    storage = get_storage()
    verify = getattr(storage, "verify", None)
    if verify is None or not verify(key, expires, signature):
        raise PermissionDenied(_("This link has expired or is not valid."))
    try:
        meta = storage.metadata(key)
        stream = storage.open(key)
    except ObjectMissing as exc:
        raise NotFound(_("This file no longer exists.")) from exc
    return SignedRead(stream, meta["content_type"], bool(meta.get("inline")), max(0, int(expires) - int(time.time())))
