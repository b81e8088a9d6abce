"""Revisions: the history of a post's title and body, how a revision differs, and restoring one."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from blog.exceptions import NotFound
from blog.extensions import db
from blog.i18n import _
from blog.models.post import Post, PostRevision
from blog.services import authoring


# ---- revisions --------------------------------------------------------------------------------------

def history(*, actor, post_id: int) -> tuple[Post, list[PostRevision]]:
    """The post and its revisions, newest first, with their editors. Raises NotFound, PermissionDenied."""
    post = authoring.get_for_edit(actor=actor, post_id=post_id)
    rows = list(db.session.scalars(
        sa.select(PostRevision).where(PostRevision.post_id == post.id)
        .options(joinedload(PostRevision.editor)).order_by(PostRevision.id.desc())
    ))
    return post, rows


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed"
    text: str


def diff(*, actor, post_id: int, revision_id: int) -> tuple[Post, PostRevision, list[DiffLine], bool]:
    """``(post, revision, lines, title_changed)``: how the current text differs from the revision's
    (removed lines were in the revision, added lines are in the current text)."""
    post = authoring.get_for_edit(actor=actor, post_id=post_id)
    revision = db.session.scalar(
        sa.select(PostRevision).where(PostRevision.id == revision_id, PostRevision.post_id == post.id)
        .options(joinedload(PostRevision.editor))
    )
    if revision is None:
        raise NotFound(_("There is no such revision."))
    lines = []
    for line in difflib.ndiff(revision.source.splitlines(), post.source.splitlines()):
        code, text = line[:2], line[2:]
        if code == "? ":
            continue
        lines.append(DiffLine({"  ": "same", "+ ": "added", "- ": "removed"}[code], text))
    return post, revision, lines, revision.title != post.title


def restore(*, actor, post_id: int, revision_id: int, base_version: int | None = None) -> Post:
    """Make a revision's title and body current again; this stores a new revision. Commits."""
    post, revision, _lines, _title_changed = diff(actor=actor, post_id=post_id, revision_id=revision_id)
    fields = authoring.Fields(title=revision.title, slug=post.slug, source=revision.source, excerpt="",
                    tags=[t.name for t in post.tags], nav_order=post.nav_order)
    return authoring.save(actor=actor, fields=fields, post_id=post.id, base_version=base_version or post.version)
