"""The related-posts job (RQ ``default`` queue): each post stores up to three published posts sharing
the most tags with it, ties broken by recency, so a post page reads its list with no extra work.

When post X is published, edited, unpublished or deleted, :func:`refresh` recomputes X's own list and
every list X may enter or leave:

- lists that show X are recomputed in full (X may have left them, or dropped a place);
- for the other published posts sharing a tag with X, X is compared with their stored entries (the
  stored ``shared_tags`` counts make that exact) and enters a list only if it beats the third entry.

So a publish costs three queries plus one per list that showed X, not one per post sharing a tag.
The job is idempotent: running it twice, or late, leaves the same lists.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from blog.extensions import db
from blog.jobs import queue
from blog.models.post import Post, post_tags, related_posts

LIMIT = 3
RETRY_INTERVALS = [10, 60, 300]
CHUNK = 500  # ids per IN (...) list
log = logging.getLogger(__name__)

_other = post_tags.alias("other")


def schedule(post_id: int, showing: Iterable[int] = ()) -> queue.Enqueued:
    """Queue :func:`refresh` for a post whose state or tags changed (after the caller's commit).

    ``showing``: for a deleted post, the posts whose lists showed it (read before the delete, whose
    cascade removes those entries), so they are refilled.
    """
    return queue.enqueue(refresh, post_id, sorted(set(showing)), queue="default", retry_intervals=RETRY_INTERVALS)


def lists_showing(post_id: int) -> list[int]:
    """The posts whose stored lists show ``post_id``."""
    return list(db.session.scalars(sa.select(related_posts.c.post_id).where(related_posts.c.related_id == post_id)))


def _candidate(post) -> bool:
    return post is not None and post.kind == "post" and post.status == "published"


def _rank_key(shared: int, published_at: datetime | None, post_id: int):
    return (-shared, -(published_at.timestamp() if published_at else 0), -post_id)


def _shared_with(post_id: int, tag_ids: Iterable[int] | None = None):
    """``[(other_id, shared, published_at)]`` for published posts sharing a tag with ``post_id``."""
    tags = (sa.select(post_tags.c.tag_id).where(post_tags.c.post_id == post_id) if tag_ids is None
            else sorted(tag_ids))
    shared = sa.func.count().label("shared")
    return db.session.execute(
        sa.select(Post.id, shared, Post.published_at)
        .join(_other, _other.c.post_id == Post.id)
        .where(_other.c.tag_id.in_(tags), Post.id != post_id, Post.kind == "post", Post.status == "published")
        .group_by(Post.id, Post.published_at)
    ).all()


def _best(rows) -> list[tuple[int, int]]:
    ranked = sorted(rows, key=lambda r: _rank_key(r[1], r[2], r[0]))
    return [(row[0], row[1]) for row in ranked[:LIMIT]]


def _store(post_id: int, entries: list[tuple[int, int]]) -> None:
    db.session.execute(sa.delete(related_posts).where(related_posts.c.post_id == post_id))
    if entries:
        db.session.execute(sa.insert(related_posts), [
            {"post_id": post_id, "related_id": rid, "position": i, "shared_tags": shared}
            for i, (rid, shared) in enumerate(entries)
        ])


def recompute(post_id: int) -> None:
    """Recompute one post's list from scratch (not committed)."""
    post = db.session.get(Post, post_id)
    _store(post_id, _best(_shared_with(post_id)) if _candidate(post) else [])


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def refresh(post_id: int, showing: list[int] | None = None) -> dict:
    """Bring every list that post ``post_id`` belongs in, or used to, up to date. Commits once."""
    post = db.session.get(Post, post_id)
    recompute(post_id)

    # Lists that show the post: it may have left them (unpublished, deleted, lost a tag) or moved.
    showing = sorted({*lists_showing(post_id), *(showing or [])} - {post_id})
    for owner in showing:
        recompute(owner)

    entered = 0
    if _candidate(post):
        # Lists the post may now enter: every published post sharing one of its tags (or a former one).
        current = set(db.session.scalars(sa.select(post_tags.c.tag_id).where(post_tags.c.post_id == post_id)))
        newcomer = {other: shared for other, shared, _ in _shared_with(post_id, current)} if current else {}
        already = set(showing)
        candidates = [other for other in newcomer if other not in already]
        stored: dict[int, list[tuple[int, int, datetime | None]]] = defaultdict(list)
        for chunk in _chunks(candidates):
            for owner, rid, shared, published_at in db.session.execute(
                sa.select(related_posts.c.post_id, related_posts.c.related_id, related_posts.c.shared_tags,
                          Post.published_at)
                .join(Post, Post.id == related_posts.c.related_id)
                .where(related_posts.c.post_id.in_(chunk))
            ):
                stored[owner].append((rid, shared, published_at))
        for owner in candidates:
            rows = [*stored.get(owner, []), (post_id, newcomer[owner], post.published_at)]
            best = _best(rows)
            if any(rid == post_id for rid, _ in best):
                _store(owner, best)
                entered += 1
    db.session.commit()
    result = {"post": post_id, "recomputed": len(showing) + 1, "entered": entered}
    log.info("related posts refreshed: %s", result)
    return result


def refresh_all() -> int:
    """Recompute every post's list (operators, seeding, after an import). Commits in batches."""
    ids = list(db.session.scalars(sa.select(Post.id).where(Post.kind == "post").order_by(Post.id)))
    for n, post_id in enumerate(ids, 1):
        recompute(post_id)
        if n % CHUNK == 0:
            db.session.commit()
    db.session.commit()
    return len(ids)
