"""Full-text search over published posts: one service in front of two engines.

The index is the table ``post_search``, one row per post of kind ``post`` whatever its status (visibility
is decided at query time by joining ``posts``). Migration 0005 creates it per dialect:

- PostgreSQL: plain columns plus ``document``, a ``tsvector`` the database computes from them (weights:
  A title, B tags, C excerpt, D body) with a GIN index; queries use ``websearch_to_tsquery``,
  ``ts_rank_cd`` and ``ts_headline``.
- SQLite: an FTS5 table (``porter unicode61`` tokenizer) whose rowid is the post id; queries use
  ``MATCH``, ``bm25`` and ``snippet``.

The table is kept out of the SQLAlchemy metadata (its shape differs per dialect); ``migrations/env.py``
keeps autogenerate from proposing to drop it.

Keeping it current: the session listeners at the bottom of this module update the index inside the same
transaction as every ORM write of a post or a tag name (studio, ``posts.create_post``, seed, deletes), and
rebuild it before the commit of any transaction that wrote ``posts``, ``post_tags`` or ``tags`` with Core
statements (the backup restore). They are registered when this module is imported, which
``blog/services/__init__.py`` does, so the web app, the worker and the CLI all have them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import joinedload, selectinload

from blog import sanitize, write_tracking
from blog.exceptions import NotFound
from blog.extensions import db
from blog.i18n import _
from blog.models.post import Post, Tag, post_tags
from blog.services.pagination import MAX_PAGE, Window

# Must match the configuration migration 0005 computes ``post_search.document`` with.
TEXT_SEARCH_CONFIG = "english"
QUERY_MAX = 200  # characters of a query that are looked at; the rest is ignored
TERMS_MAX = 32  # words (inside and outside quotes) that are looked at
SNIPPET_WORDS = 30
_BATCH = 500

# Marks around matches in snippets: control characters that never reach the index (see _plain), so a
# post cannot forge them. Snippets are HTML-escaped first, then the marks become <mark> elements.
_START, _STOP = "\x02", "\x03"
_LT, _GT = "\x04", "\x05"  # "<" and ">" while PostgreSQL builds a headline
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HIGHLIGHT = re.compile(re.escape(_START) + "(.*?)" + re.escape(_STOP), re.S)

# One search "word" as both engines' tokenizers see it: letters and digits ("_" separates words).
_TOKEN = re.compile(r"[^\W_]+")
# A chunk of the query: an optional "-" that starts it (exclusion), then a quoted phrase (closing quote
# optional) or a run of characters without spaces or quotes.
_CHUNK = re.compile(r'(?P<neg>(?<!\S)-)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')

_WEIGHTS = {"title": 10.0, "excerpt": 2.0, "body": 1.0, "tags": 4.0}  # bm25 (SQLite) mirrors A/C/D/B

_pg_index = sa.Table(
    "post_search",
    sa.MetaData(),  # not db.metadata: see the module docstring
    sa.Column("post_id", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("excerpt", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("document", postgresql.TSVECTOR),
)
_fts_index = sa.table(
    "post_search",
    sa.column("rowid", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("excerpt", sa.Text),
    sa.column("body", sa.Text),
    sa.column("tags", sa.Text),
)


# ---------------------------------------------------------------------------------------------------------
# The query language: words, "quoted phrases", -exclusions and OR, as websearch_to_tsquery reads them.


@dataclass(frozen=True)
class Clause:
    """One word or phrase of a query. ``text`` is what the user typed (for PostgreSQL's own parser, which
    keeps ``node.js`` or ``3.14`` whole); ``tokens`` are its letters-and-digits words (for FTS5)."""

    text: str
    tokens: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """Alternatives (``OR``) of clause groups that must all match, each with at least one positive clause."""

    groups: tuple[tuple[Clause, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.groups)

    def websearch(self) -> str:
        """The query for ``websearch_to_tsquery``: every clause quoted, so only ``-`` and ``or`` act."""
        return " or ".join(
            " ".join(("-" if c.negated else "") + f'"{c.text}"' for c in group) for group in self.groups
        )

    def fts5(self) -> str:
        """The query as an FTS5 expression: every token inside double quotes (so no user text can be FTS5
        syntax), ``NOT`` after the positive clauses of a group, groups joined by ``OR``."""

        def phrase(clause: Clause) -> str:
            return '"' + " ".join(clause.tokens) + '"'

        alternatives = []
        for group in self.groups:
            expr = "(" + " AND ".join(phrase(c) for c in group if not c.negated) + ")"
            for clause in group:
                if clause.negated:
                    expr += " NOT " + phrase(clause)
            alternatives.append(f"({expr})")
        return " OR ".join(alternatives)


def clean_query(raw: str | None) -> str:
    """The query as it is searched for and shown: control characters removed, spaces collapsed, and cut
    to QUERY_MAX characters at a space when there is one (a word is not cut in half)."""
    text = " ".join(_CONTROL.sub(" ", (raw or "")[: QUERY_MAX * 4]).split())
    if len(text) <= QUERY_MAX:
        return text
    cut = text[: QUERY_MAX + 1]
    return cut[: cut.rindex(" ")] if " " in cut else cut[:QUERY_MAX]


def parse_query(raw: str | None) -> ParsedQuery:
    """Words, ``"phrases"``, ``-word`` / ``-"phrase"`` exclusions and ``or``, like a web search box.

    Never raises: punctuation, unbalanced quotes and search-engine syntax are plain characters. A chunk
    with several words (``well-known``) is a phrase. A group of only exclusions is dropped (it would
    match nearly everything), so a query of only exclusions or punctuation is empty.
    """
    groups: list[list[Clause]] = [[]]
    budget = TERMS_MAX
    for match in _CHUNK.finditer(clean_query(raw)):
        text = match.group("phrase") if match.group("phrase") is not None else match.group("word")
        negated = bool(match.group("neg"))
        if match.group("word") is not None and not negated and text.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        tokens = tuple(t.lower() for t in _TOKEN.findall(text))[:budget]
        if not tokens:
            continue
        budget -= len(tokens)
        if len(tokens) < len(_TOKEN.findall(text)):  # cut by the budget: search for what is left
            text = " ".join(tokens)
        groups[-1].append(Clause(text=" ".join(text.split()), tokens=tokens, negated=negated))
        if budget <= 0:
            break
    kept = tuple(tuple(group) for group in groups if any(not c.negated for c in group))
    return ParsedQuery(kept)


# ---------------------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Hit:
    post: Post
    snippet: Markup  # escaped text of the body around the matches, matches in <mark>


@dataclass(frozen=True)
class SearchResults(Window):
    """A page of hits (``items``) for ``query``; works with the ``pager`` macro like other listings."""

    query: str = ""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _visible(now: datetime):
    return sa.and_(Post.kind == "post", Post.status == "published", Post.published_at <= now)


def highlight(snippet: str | None) -> Markup:
    """Escape ``snippet`` and turn the engine's match marks into ``<mark>`` elements."""
    escaped = _HIGHLIGHT.sub(r"<mark>\1</mark>", str(escape(snippet or "")))
    escaped = escaped.replace(_LT, "&lt;").replace(_GT, "&gt;")
    return Markup(escaped.replace(_START, "").replace(_STOP, ""))


def _postgres_statement(parsed: ParsedQuery, now: datetime, limit: int, offset: int):
    config = sa.cast(sa.literal(TEXT_SEARCH_CONFIG), postgresql.REGCONFIG)
    index = _pg_index
    tsquery = sa.func.websearch_to_tsquery(config, sa.literal(parsed.websearch(), sa.Text))
    rank = sa.func.ts_rank_cd(index.c.document, tsquery)
    # Rank and cut the page first, so ts_headline (which re-parses the body) runs for this page's rows only.
    page = (
        sa.select(index.c.post_id, rank.label("rank"))
        .join(Post, Post.id == index.c.post_id)
        .where(index.c.document.op("@@")(tsquery), _visible(now),
               sa.func.querytree(tsquery) != "T")  # a stop word plus exclusions would match nearly everything
        .order_by(rank.desc(), Post.published_at.desc(), Post.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    # One passage around the best match (PostgreSQL's fragment mode drops the words after the last match).
    options = f"StartSel={_START}, StopSel={_STOP}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}"
    # PostgreSQL's parser takes "<b>" in plain text for a tag and leaves it out of headlines: hand it
    # stand-ins for < and > (control characters the index never holds) and put the brackets back after.
    body = sa.func.translate(index.c.body, "<>", _LT + _GT)
    snippet = sa.func.ts_headline(config, body, tsquery, sa.literal(options, sa.Text))
    return (
        sa.select(Post, snippet)
        .join(page, page.c.post_id == Post.id)
        .join(index, index.c.post_id == Post.id)
        .order_by(page.c.rank.desc(), Post.published_at.desc(), Post.id.desc())
    )


def _sqlite_statement(parsed: ParsedQuery, now: datetime, limit: int, offset: int):
    index = _fts_index
    table = sa.literal_column("post_search")  # FTS5 functions take the table itself as first argument
    rank = sa.func.bm25(table, *(_WEIGHTS[name] for name in ("title", "excerpt", "body", "tags")))
    snippet = sa.func.snippet(table, 2, _START, _STOP, "…", SNIPPET_WORDS)  # column 2: the body
    return (
        sa.select(Post, snippet)
        .select_from(index)
        .join(Post, Post.id == index.c.rowid)
        .where(table.op("MATCH")(parsed.fts5()), _visible(now))
        .order_by(rank, Post.published_at.desc(), Post.id.desc())  # bm25: lower is better
        .limit(limit)
        .offset(offset)
    )


def search(*, query: str | None, page: int = 1, now: datetime | None = None) -> SearchResults:
    """Published posts matching ``query`` (see :func:`parse_query`), best first, newest first among equals,
    each with a highlighted snippet; two SQL statements whatever the page size.

    A query with nothing to search for is an empty first page, not an error. Raises NotFound for a page
    below 1, above MAX_PAGE, or past the end (like :func:`blog.services.pagination.window`).
    """
    if page < 1 or page > MAX_PAGE:
        raise NotFound(_("There is no such page."))
    per_page = current_app.config["POSTS_PER_PAGE"]
    cleaned = clean_query(query)
    parsed = parse_query(cleaned)
    rows = []
    if parsed:
        build = _postgres_statement if db.engine.dialect.name == "postgresql" else _sqlite_statement
        stmt = build(parsed, now or _now(), per_page + 1, (page - 1) * per_page)
        stmt = stmt.options(joinedload(Post.author), selectinload(Post.tags))
        rows = db.session.execute(stmt).all()
    if page > 1 and not rows:
        raise NotFound(_("There is no such page."))
    hits = [Hit(post=post, snippet=highlight(snippet)) for post, snippet in rows[:per_page]]
    return SearchResults(items=hits, page=page, per_page=per_page, has_next=len(rows) > per_page, query=cleaned)


# ---------------------------------------------------------------------------------------------------------
# Writing the index


def _plain(text: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", text or "").split())


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
        connection.execute(sa.delete(_pg_index).where(_pg_index.c.post_id.in_(post_ids)))
    else:
        connection.execute(sa.delete(_fts_index).where(_fts_index.c.rowid.in_(post_ids)))


def _write(connection, rows: list[dict]) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        stmt = postgresql.insert(_pg_index)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_pg_index.c.post_id],
            set_={name: stmt.excluded[name] for name in ("title", "excerpt", "body", "tags")},
        )
        connection.execute(stmt, [{"post_id": row["id"], **{k: v for k, v in row.items() if k != "id"}}
                                  for row in rows])
    else:
        stmt = sa.insert(_fts_index).prefix_with("OR REPLACE")
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
        connection.execute(sa.delete(_pg_index))
    else:
        connection.execute(sa.delete(_fts_index))
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
