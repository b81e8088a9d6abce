"""Full-text search over published posts: one service in front of two engines.

The index (``post_search``, kept current by :mod:`blog.services.search_index`) is read with
``websearch_to_tsquery``, ``ts_rank_cd`` and ``ts_headline`` on PostgreSQL, and with ``MATCH``, ``bm25``
and ``snippet`` on SQLite's FTS5. The query language (words, "phrases", -exclusions, OR) is parsed once
here, and every term is quoted before it reaches either engine.
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

from blog.exceptions import NotFound
from blog.extensions import db
from blog.i18n import _
from blog.models.post import Post
from blog.services import posts as reading
from blog.services.pagination import MAX_PAGE, Window
from blog.services.search_index import CONTROL, FTS_INDEX, PG_INDEX, TEXT_SEARCH_CONFIG

QUERY_MAX = 200  # characters of a query that are looked at; the rest is ignored
TERMS_MAX = 32  # words (inside and outside quotes) that are looked at
SNIPPET_WORDS = 30

# Marks around matches in snippets: control characters that never reach the index (search_index.CONTROL),
# so a post cannot forge them. Snippets are HTML-escaped first, then the marks become <mark> elements.
_START, _STOP = "\x02", "\x03"
_LT, _GT = "\x04", "\x05"  # "<" and ">" while PostgreSQL builds a headline
_HIGHLIGHT = re.compile(re.escape(_START) + "(.*?)" + re.escape(_STOP), re.S)

# One search "word" as both engines' tokenizers see it: letters and digits ("_" separates words).
_TOKEN = re.compile(r"[^\W_]+")
# A chunk of the query: an optional "-" that starts it (exclusion), then a quoted phrase (closing quote
# optional) or a run of characters without spaces or quotes.
_CHUNK = re.compile(r'(?P<neg>(?<!\S)-)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')

_WEIGHTS = {"title": 10.0, "excerpt": 2.0, "body": 1.0, "tags": 4.0}  # bm25 (SQLite) mirrors A/C/D/B


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
    text = " ".join(CONTROL.sub(" ", (raw or "")[: QUERY_MAX * 4]).split())
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


def highlight(snippet: str | None) -> Markup:
    """Escape ``snippet`` and turn the engine's match marks into ``<mark>`` elements."""
    escaped = _HIGHLIGHT.sub(r"<mark>\1</mark>", str(escape(snippet or "")))
    escaped = escaped.replace(_LT, "&lt;").replace(_GT, "&gt;")
    return Markup(escaped.replace(_START, "").replace(_STOP, ""))


def _postgres_statement(parsed: ParsedQuery, now: datetime, limit: int, offset: int):
    config = sa.cast(sa.literal(TEXT_SEARCH_CONFIG), postgresql.REGCONFIG)
    index = PG_INDEX
    tsquery = sa.func.websearch_to_tsquery(config, sa.literal(parsed.websearch(), sa.Text))
    rank = sa.func.ts_rank_cd(index.c.document, tsquery)
    # Rank and cut the page first, so ts_headline (which re-parses the body) runs for this page's rows only.
    page = (
        sa.select(index.c.post_id, rank.label("rank"))
        .join(Post, Post.id == index.c.post_id)
        .where(index.c.document.op("@@")(tsquery), reading.visible(now),
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
    index = FTS_INDEX
    table = sa.literal_column("post_search")  # FTS5 functions take the table itself as first argument
    rank = sa.func.bm25(table, *(_WEIGHTS[name] for name in ("title", "excerpt", "body", "tags")))
    snippet = sa.func.snippet(table, 2, _START, _STOP, "…", SNIPPET_WORDS)  # column 2: the body
    return (
        sa.select(Post, snippet)
        .select_from(index)
        .join(Post, Post.id == index.c.rowid)
        .where(table.op("MATCH")(parsed.fts5()), reading.visible(now))
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
