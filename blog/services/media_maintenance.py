"""Operator work on media: reprocessing uploads and finding what storage holds that no row knows.

The CLI calls these as :data:`blog.permissions.OPERATOR`; each takes an optional ``progress(n)``
callback for its progress bar.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

import sqlalchemy as sa

from blog import permissions
from blog.exceptions import InvalidInput, PermissionDenied
from blog.extensions import db
from blog.i18n import _
from blog.jobs import images
from blog.models.media import Media
from blog.storage import get_storage
from blog.storage.base import StoredObject

# Objects this young may belong to an upload whose row is about to be committed: never orphans yet.
ORPHAN_GRACE = timedelta(hours=1)
# Uploads the browser never finished, and processing a dead worker never finished.
ABANDONED_AFTER = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=30)
BATCH = 100


def _require_operator(actor) -> None:
    if not permissions.can_administer(actor):
        raise PermissionDenied(_("Only administrators maintain media."))


def _noop(_n: int = 1) -> None:
    pass


def reprocess_selection(*, actor, ids: Iterable[int] = (), everything: bool = False, failed: bool = False,
                        now: datetime | None = None) -> list[int]:
    """Ids to reprocess: given ``ids``, ``everything`` with a stored original, or ``failed`` (failed,
    plus uploads stuck in uploaded/processing for more than 30 minutes). InvalidInput for unknown ids."""
    _require_operator(actor)
    ids = sorted(set(ids))
    if sum(bool(x) for x in (ids, everything, failed)) != 1:
        raise InvalidInput({"_": [_("Give media ids, --all or --failed (one of them).")]})
    if ids:
        found = set(db.session.scalars(sa.select(Media.id).where(Media.id.in_(ids))))
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise InvalidInput({"_": [_("No media with id %(ids)s.", ids=", ".join(missing))]})
        return ids
    stmt = sa.select(Media.id).order_by(Media.id)
    if everything:
        stmt = stmt.where(Media.status != "pending")
    else:
        stale = (now or datetime.now(timezone.utc)) - STALE_AFTER
        stmt = stmt.where(sa.or_(Media.status == "failed",
                                 sa.and_(Media.status.in_(("uploaded", "processing")), Media.updated_at < stale)))
    return list(db.session.scalars(stmt))


def reprocess(*, actor, ids: list[int], progress: Callable[[int], None] = _noop) -> int:
    """Mark each upload ``uploaded`` and enqueue its processing, a batch per commit. Returns the count.

    Uploads still waiting for the browser (``pending``) are skipped. Variants of a ready image stay in
    use until the new ones replace them.
    """
    _require_operator(actor)
    count = 0
    for start in range(0, len(ids), BATCH):
        batch = list(db.session.scalars(sa.select(Media).where(Media.id.in_(ids[start:start + BATCH]),
                                                               Media.status != "pending")))
        for media in batch:
            media.status, media.failure_reason = "uploaded", None
        db.session.commit()
        for media in batch:
            images.schedule(media.id)
        count += len(batch)
        progress(len(ids[start:start + BATCH]))
    return count


@dataclass
class Orphans:
    objects: list[StoredObject] = field(default_factory=list)  # stored, but no row owns their prefix
    abandoned: list[int] = field(default_factory=list)  # rows of uploads never finished

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects)


def find_orphans(*, actor, now: float | None = None, progress: Callable[[int], None] = _noop) -> Orphans:
    """Objects older than an hour under no media row's prefix, and uploads pending for over a day."""
    _require_operator(actor)
    now = time.time() if now is None else now
    prefixes = {key.rsplit("/", 1)[0] for key in db.session.scalars(sa.select(Media.storage_key))}
    report = Orphans()
    for stored in get_storage().iter_objects():
        progress(1)
        if stored.key.rsplit("/", 1)[0] not in prefixes and stored.modified < now - ORPHAN_GRACE.total_seconds():
            report.objects.append(stored)
    cutoff = datetime.fromtimestamp(now, timezone.utc) - ABANDONED_AFTER
    report.abandoned = list(db.session.scalars(
        sa.select(Media.id).where(Media.status == "pending", Media.created_at < cutoff).order_by(Media.id)))
    return report


def delete_orphans(*, actor, report: Orphans, progress: Callable[[int], None] = _noop) -> int:
    """Delete what :func:`find_orphans` found: the abandoned rows (committed first), then the objects."""
    _require_operator(actor)
    storage = get_storage()
    rows = list(db.session.scalars(sa.select(Media).where(Media.id.in_(report.abandoned),
                                                          Media.status == "pending")))
    keys = [m.storage_key for m in rows]
    for media in rows:
        db.session.delete(media)
    db.session.commit()
    for key in keys:
        storage.delete(key)
        progress(1)
    for stored in report.objects:
        storage.delete(stored.key)
        progress(1)
    return len(rows) + len(report.objects)
