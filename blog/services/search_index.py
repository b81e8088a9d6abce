"""The search index: the table ``post_search``, and keeping it current with every write of a post.

One row per post of kind ``post`` whatever its status (visibility is decided at query time by joining
``posts``, see :mod:`blog.services.search`). Migration 0005 creates it per dialect:

- PostgreSQL: plain columns plus ``document``, a ``tsvector`` the database computes from them (weights:
  A title, B tags, C excerpt, D body) with a GIN index.
- SQLite: an FTS5 table (``porter unicode61`` tokenizer) whose rowid is the post id.

The table is kept out of the SQLAlchemy metadata (its shape differs per dialect); ``migrations/env.py``
keeps autogenerate from proposing to drop it.

Keeping it current: the session listeners at the bottom of this module update the index inside the same
transaction as every ORM write of a post or a tag name (studio, ``posts.create_post``, seed, deletes), and
rebuild it before the commit of any transaction that wrote ``posts``, ``post_tags`` or ``tags`` with
statements (the backup restore). They are registered when this module is imported, which
``blog/services/__init__.py`` does, so the web app, the worker and the CLI all have them.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from blog import sanitize, write_tracking
from blog.extensions import db
from blog.models.post import Post, Tag, post_tags

# Must match the configuration migration 0005 computes ``post_search.document`` with.
TEXT_SEARCH_CONFIG = "english"
_BATCH = 500
# Control characters never reach the index, so search can use some as snippet marks a post cannot forge.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

PG_INDEX = sa.Table(
    "post_search",
    sa.MetaData(),  # not db.metadata: see the module docstring
    sa.Column("post_id", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("excerpt", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("document", postgresql.TSVECTOR),
)
FTS_INDEX = sa.table(
    "post_search",
    sa.column("rowid", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("excerpt", sa.Text),
    sa.column("body", sa.Text),
    sa.column("tags", sa.Text),
)



def _plain(text: str | None) -> str:
    return " ".join(CONTROL.sub(" ", text or "").split())


def _index_rows(connection, post_ids) -> list[dict]:
    """What the index holds for those of ``post_ids`` that are posts (not pages), read from the database."""
    posts = Post.__table__
    found = connection.execute(
        sa.select(posts.c.id, posts.c.title, posts.c.excerpt, posts.c.body_html)
        .where(posts.c.id.in_(post_ids), posts.c.kind == "post")
    ).all()
    if not found:
        return []
    tags: dict[int, list[str]] = {}
    for post_id, name in connection.execute(
        sa.select(post_tags.c.post_id, Tag.__table__.c.name)
        .join(Tag.__table__, Tag.__table__.c.id == post_tags.c.tag_id)
        .where(post_tags.c.post_id.in_([row.id for row in found]))
        .order_by(post_tags.c.post_id, Tag.__table__.c.name)
    ):
        tags.setdefault(post_id, []).append(name)
    return [
        {"id": row.id, "title": _plain(row.title), "excerpt": _plain(row.excerpt),
         "body": _plain(sanitize.to_text(row.body_html or "")), "tags": _plain(", ".join(tags.get(row.id, [])))}
        for row in found
    ]


def _delete(connection, post_ids) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.delete(PG_INDEX).where(PG_INDEX.c.post_id.in_(post_ids)))
    else:
        connection.execute(sa.delete(FTS_INDEX).where(FTS_INDEX.c.rowid.in_(post_ids)))


def _write(connection, rows: list[dict]) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        stmt = postgresql.insert(PG_INDEX)
        stmt = stmt.on_conflict_do_update(
            index_elements=[PG_INDEX.c.post_id],
            set_={name: stmt.excluded[name] for name in ("title", "excerpt", "body", "tags")},
        )
        connection.execute(stmt, [{"post_id": row["id"], **{k: v for k, v in row.items() if k != "id"}}
                                  for row in rows])
    else:
        stmt = sa.insert(FTS_INDEX).prefix_with("OR REPLACE")
        connection.execute(stmt, [{"rowid": row["id"], **{k: v for k, v in row.items() if k != "id"}}
                                  for row in rows])


def _sync(connection, post_ids) -> None:
    """Make the index rows of ``post_ids`` match the posts table: written, rewritten or removed."""
    post_ids = sorted(set(post_ids))
    for start in range(0, len(post_ids), _BATCH):
        batch = post_ids[start:start + _BATCH]
        rows = _index_rows(connection, batch)
        gone = set(batch) - {row["id"] for row in rows}  # deleted, or pages
        if gone:
            _delete(connection, sorted(gone))
        _write(connection, rows)


def _rebuild(connection) -> int:
    posts = Post.__table__
    if connection.dialect.name == "postgresql":
        connection.execute(sa.delete(PG_INDEX))
    else:
        connection.execute(sa.delete(FTS_INDEX))
    count, last = 0, 0
    while True:
        ids = list(connection.scalars(
            sa.select(posts.c.id).where(posts.c.kind == "post", posts.c.id > last).order_by(posts.c.id).limit(_BATCH)
        ))
        if not ids:
            return count
        rows = _index_rows(connection, ids)
        _write(connection, rows)
        count += len(rows)
        last = ids[-1]


def reindex_all() -> int:
    """Rebuild the search index from every post (for operators: after a restore by other means, or a
    change of text search configuration). Commits. Returns the number of posts indexed."""
    count = _rebuild(db.session.connection())
    db.session.commit()
    return count

# ---------------------------------------------------------------------------------------------------------
# Session listeners: the index changes in the same transaction as the posts.

_INDEXED = ("title", "excerpt", "body_html", "kind", "tags")
_WATCHED_TABLES = frozenset({"posts", "post_tags", "tags"})


def _after_flush(session, _flush_context) -> None:
    # The new/dirty/deleted lists and attribute histories still show what this flush wrote.
    changed: set[int] = set()
    renamed_tags: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Post):
            changed.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Post) and write_tracking.changed(obj, _INDEXED):
            changed.add(obj.id)
        elif isinstance(obj, Tag) and write_tracking.changed(obj, ("name",)):
            renamed_tags.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Post):
            changed.add(obj.id)  # not found any more, so its row is removed (SQLite has no cascade here)
    if not (changed or renamed_tags):
        return
    connection = session.connection()
    if renamed_tags:
        changed.update(connection.scalars(
            sa.select(post_tags.c.post_id).where(post_tags.c.tag_id.in_(sorted(renamed_tags)))))
    _sync(connection, changed)


def _before_commit(session) -> None:
    # Statements (a restore) wrote posts or tags past the flush: rebuild the index before the commit.
    if write_tracking.tables_written(session) & _WATCHED_TABLES:
        session.flush()
        _rebuild(session.connection())


sa.event.listen(db.session, "after_flush", _after_flush)
sa.event.listen(db.session, "before_commit", _before_commit)
