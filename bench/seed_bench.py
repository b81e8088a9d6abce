"""Fast, realistic seeding of a benchmark database: bulk inserts instead of one service call per post.

    from seed_bench import seed      # inside an app context, on a migrated, empty database
    summary = seed(posts=10_000)

(bench/http_bench.py does this; it is not a command on its own.)

What it writes, with SQLAlchemy Core ``executemany`` on one connection (no ORM, no session events):
- ``authors`` active, confirmed users with role ``author`` (one shared random password hash: hashing
  100 passwords would be most of the time) and a short Markdown bio, plus 50 readers who comment;
- about ``tags`` tags, drawn Zipf-like (a few very popular, a long tail), 1-4 per post;
- ``posts`` published posts over the past five years. Bodies are a few dozen distinct Markdown texts
  (headings, lists, code, tables, quotes, links), each rendered once with ``blog.sanitize.render_markdown``
  exactly as the services do: ``body_html``, ``excerpt``, ``word_count`` and ``sanitizer_version`` match
  what saving the post through the studio would store, so no page re-renders a row on read;
- 0-5 approved comments per post, rendered with the comment allowlist.

Related posts and the search index are derived data: the caller builds them afterwards with the app's
own functions (``blog.jobs.related.refresh_all``, ``blog.services.search_index.reindex_all``).
"""
from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from slugify import slugify
from werkzeug.security import generate_password_hash

from blog import sanitize
from blog.extensions import db
from blog.models.comment import Comment
from blog.models.post import Post, Tag, post_tags
from blog.models.user import User

BODY_VARIANTS = 40
COMMENT_VARIANTS = 12
READERS = 50

FIRST = ("Ada", "Grace", "Alan", "Barbara", "Edsger", "Donald", "Frances", "Ken", "Margaret", "Niklaus",
         "Radia", "Tim", "Guido", "Linus", "Hedy", "John", "Katherine", "Dennis", "Sophie", "Leslie")
LAST = ("Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Knuth", "Allen", "Thompson", "Hamilton",
        "Wirth", "Perlman", "Berners-Lee", "van Rossum", "Torvalds", "Lamarr", "McCarthy", "Johnson",
        "Ritchie", "Wilson", "Lamport")
TOPICS = ("python", "flask", "postgresql", "sqlite", "redis", "caching", "testing", "design", "performance",
          "security", "devops", "writing", "css", "html", "accessibility", "javascript", "databases", "queues",
          "deployment", "monitoring", "logging", "migrations", "templates", "http", "nginx", "linux", "docker",
          "git", "api", "search", "images", "email", "i18n", "unicode", "dates", "sessions", "forms",
          "packaging", "async", "profiling")
QUALIFIERS = ("tips", "internals", "pitfalls", "for beginners", "at scale")
SUBJECTS = ("Queues", "Indexes", "Templates", "Migrations", "Caches", "Tests", "Deployments", "Sessions",
            "Feeds", "Search", "Images", "Forms", "Logs", "Backups", "Locks", "Transactions")
ANGLES = ("in practice", "from first principles", "without the hype", "at small scale", "for the busy reader",
          "the hard way", "revisited", "in ten minutes", "after a year", "we got wrong")

PARAGRAPHS = (
    "Most of the work in a web application is **reading**: the same rows, rendered the same way, for people "
    "who only want the words. Optimise for them first, and measure before you believe a single claim about "
    "speed, including the ones in this post.",
    "A good rule of thumb: if a page issues more queries as it shows more rows, it will be slow exactly when "
    "it matters. Load what you need *up front*, with a join or a second query that fetches every child row "
    "at once, and keep the count of statements flat as the data grows.",
    "Keep the request short. Anything slow or fallible (mail, images, exports) belongs in a worker, where it "
    "can be retried without anyone waiting on it. The request commits, enqueues an id, and answers.",
    "Write the test before the fix; it tells you when you are done and keeps you honest later. A test that "
    "failed once for the right reason is worth ten that never failed at all.",
    "Small modules with one reason to change beat clever ones. Future readers, including you, will thank you "
    "for the boring name, the short function and the docstring that says what it raises.",
    "Caches are a promise that two answers are the same. Before adding one, write down what makes an entry "
    "stale and who notices; a cache nobody can invalidate is a bug report waiting for a date.",
    "Indexes are not free: every write pays for them. Add the one your slowest query needs, check with "
    "`EXPLAIN ANALYZE` that the planner uses it, and drop the ones nothing reads.",
    "Time zones deserve their own paragraph. Store UTC, keep timestamps aware, and convert at the edge, in the "
    "template, where you finally know who is reading and where they are.",
    "Migrations run once per release and must be boring. Add a column as nullable, backfill in batches, then "
    "tighten the constraint; never rename and drop in the same deploy.",
    "Logs are for the person on call at three in the morning. One line per request, with an id that follows "
    "the work into the queue, beats a page of stack traces nobody can correlate.",
    "Security is mostly saying no by default: an allowlist for HTML, a CSRF token on every form, cookies that "
    "are `HttpOnly` and `Secure`, and secrets that never appear in the repository.",
    "Accessibility is not a feature you add at the end. Headings in order, labels on inputs, real buttons and "
    "enough contrast make the page better for everyone, screen reader or not.",
    "When a page is slow, profile it before guessing. The usual suspects are a missing eager load, a template "
    "that formats thousands of dates, and a serializer that touches every attribute of every row.",
    "Backups you have not restored are hopes. Schedule a restore into a scratch database every week and check "
    "a few rows by hand; the day you need it is not the day to learn the flags.",
    "Feature flags let you ship code before you ship behaviour. Keep them few and short-lived, and delete the "
    "flag together with the old branch as soon as the new one has proven itself.",
    "Readers forgive a plain page that loads instantly far more readily than a beautiful one that stutters. "
    "Ship less JavaScript, compress images, and let the browser cache what does not change.",
)
HEADINGS = ("Why it matters", "What we measured", "The trade-offs", "A worked example", "What to do instead",
            "Further reading", "Lessons learned", "The numbers")
LISTS = (
    "- measure first\n- change one thing\n- measure again\n- keep the numbers",
    "1. Read the query plan.\n2. Add the index.\n3. Read the plan again.\n4. Ship it behind a flag.",
    "- `EXPLAIN ANALYZE` the slow query\n- check `pg_stat_statements`\n- look for sequential scans on big tables",
)
TABLE = ("| Step | Why |\n|---|---|\n| Measure | know the cost |\n| Change one thing | know the cause |\n"
         "| Repeat | know it holds |")
CODES = (
    "```python\nfrom blog.app import create_app\n\napp = create_app()\n```",
    "```sql\nCREATE INDEX CONCURRENTLY ix_posts_published_at\n    ON posts (published_at DESC);\n```",
    "```python\nposts = db.session.scalars(\n"
    "    sa.select(Post).options(selectinload(Post.tags)).limit(10)\n).all()\n```",
)
QUOTES = ("> Premature optimization is the root of all evil, but that is no excuse for a slow home page.",
          "> Make it work, make it right, make it fast, in that order.")
LINKS = ("See [the PostgreSQL documentation](https://www.postgresql.org/docs/current/indexes.html) for details.",
         "The [Flask tutorial](https://flask.palletsprojects.com/tutorial/) covers the basics.",
         "Earlier posts on this blog go into [testing](/tag/testing) in more depth.")
COMMENTS = ("Thanks, this cleared things up.", "I would add a note on *rollbacks*.", "Bookmarked for later!",
            "We hit exactly this last month; the index fixed it.", "Could you share the benchmark script?",
            "Great write-up. The table at the end is **very** handy.",
            "Not sure I agree about caching: invalidation is the hard part, as always.",
            "Tried it on our staging server: queries went from 40 to 3 per page.",
            "Small typo in the second paragraph, otherwise spot on.",
            "How does this interact with `pgbouncer` in transaction mode?",
            "Please write a follow-up on monitoring!",
            "This is the clearest explanation of the trade-off I have read.")


def _body(rng: random.Random) -> str:
    parts = [rng.choice(PARAGRAPHS) for _ in range(rng.randint(4, 14))]
    for heading in rng.sample(HEADINGS, rng.randint(1, 3)):
        parts.insert(rng.randint(1, len(parts)), f"## {heading}")
    extras = [rng.choice(LISTS)]
    if rng.random() < 0.5:
        extras.append(rng.choice(CODES))
    if rng.random() < 0.3:
        extras.append(TABLE)
    if rng.random() < 0.3:
        extras.append(rng.choice(QUOTES))
    if rng.random() < 0.6:
        extras.append(rng.choice(LINKS))
    for extra in extras:
        parts.insert(rng.randint(1, len(parts)), extra)
    return "\n\n".join(parts)


def _zipf_sample(rng: random.Random, weights: list[float], k: int) -> set[int]:
    chosen: set[int] = set()
    indexes = range(len(weights))
    while len(chosen) < k:
        chosen.add(rng.choices(indexes, weights=weights)[0])
    return chosen


def _insert(connection, table, rows: list[dict]) -> list[int]:
    """executemany in one round trip per batch (psycopg's insertmanyvalues); ids in the rows' order."""
    result = connection.execute(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]


def seed(*, posts: int, authors: int = 100, tags: int = 200, seed_value: int = 12,
         now: datetime | None = None) -> dict:
    """Fill the (migrated, empty) database of the current app. Commits. Returns what it made."""
    rng = random.Random(seed_value)
    now = now or datetime.now(timezone.utc)
    users_t, posts_t, tags_t, comments_t = (User.__table__, Post.__table__, Tag.__table__, Comment.__table__)

    bodies = []
    for _ in range(BODY_VARIANTS):
        source = _body(rng)
        rendered = sanitize.render_markdown(source)
        bodies.append((source, rendered.html, sanitize.excerpt_from_text(rendered.text), rendered.word_count,
                       rendered.version))
    comment_bodies = []
    for text in COMMENTS[:COMMENT_VARIANTS]:
        rendered = sanitize.render_markdown(text, comment=True)
        comment_bodies.append((text, rendered.html, rendered.version))
    bio = "Writes about *software* that stays up. Occasionally about [tea](https://en.wikipedia.org/wiki/Tea)."
    bio_rendered = sanitize.render_markdown(bio)

    shared_hash = generate_password_hash(secrets.token_urlsafe(16))
    joined = now - timedelta(days=6 * 365)
    author_rows = [{
        "username": f"author{n:03d}", "email": f"author{n:03d}@example.com", "password_hash": shared_hash,
        "display_name": f"{FIRST[n % len(FIRST)]} {LAST[(n * 7) % len(LAST)]}", "bio": bio,
        "bio_html": bio_rendered.html, "bio_sanitizer_version": bio_rendered.version, "role": "author",
        "status": "active", "email_confirmed_at": joined, "created_at": joined, "updated_at": joined,
    } for n in range(1, authors + 1)]
    reader_rows = [{
        "username": f"reader{n:03d}", "email": f"reader{n:03d}@example.com", "password_hash": shared_hash,
        "display_name": f"{FIRST[(n * 3) % len(FIRST)]} R.", "role": "reader", "status": "active",
        "email_confirmed_at": joined, "created_at": joined, "updated_at": joined,
    } for n in range(1, READERS + 1)]

    names = list(TOPICS) + [f"{t} {q}" for q in QUALIFIERS for t in TOPICS]
    names = names[:tags]
    tag_rows = [{"name": name, "slug": slugify(name, max_length=60), "created_at": joined} for name in names]
    weights = [1.0 / (k + 1) for k in range(len(tag_rows))]  # Zipf, s = 1

    span = (now - timedelta(hours=1) - (now - timedelta(days=5 * 365))).total_seconds()
    start = now - timedelta(days=5 * 365)

    with db.engine.begin() as connection:
        author_ids = _insert(connection, users_t, author_rows)
        reader_ids = _insert(connection, users_t, reader_rows)
        tag_ids = _insert(connection, tags_t, tag_rows)
        post_rows, post_tag_choices, published = [], [], []
        for i in range(1, posts + 1):
            source, body_html, excerpt, words, version = bodies[rng.randrange(len(bodies))]
            title = f"{rng.choice(SUBJECTS)} {rng.choice(ANGLES)}"
            when = start + timedelta(seconds=rng.random() * span)
            post_rows.append({
                "kind": "post", "author_id": author_ids[rng.randrange(len(author_ids))], "title": title,
                "slug": f"{slugify(title, max_length=180)}-{i}", "source": source, "body_html": body_html,
                "sanitizer_version": version, "excerpt": excerpt, "word_count": words, "status": "published",
                "published_at": when, "version": 1, "created_at": when, "updated_at": when,
            })
            post_tag_choices.append(_zipf_sample(rng, weights, rng.choice((1, 2, 2, 3, 3, 4))))
            published.append(when)
        post_ids = []
        for offset in range(0, len(post_rows), 1000):
            post_ids += _insert(connection, posts_t, post_rows[offset:offset + 1000])
        link_rows = [{"post_id": pid, "tag_id": tag_ids[k]} for pid, chosen in zip(post_ids, post_tag_choices)
                     for k in chosen]
        for offset in range(0, len(link_rows), 5000):
            connection.execute(sa.insert(post_tags), link_rows[offset:offset + 5000])
        comment_rows = []
        commenters = reader_ids + author_ids
        for pid, when in zip(post_ids, published):
            for _ in range(rng.randint(0, 5)):
                text, html, version = comment_bodies[rng.randrange(len(comment_bodies))]
                at = min(when + timedelta(minutes=rng.randint(5, 60 * 24 * 30)), now - timedelta(minutes=1))
                comment_rows.append({"post_id": pid, "author_id": rng.choice(commenters), "source": text,
                                     "body_html": html, "sanitizer_version": version, "status": "approved",
                                     "created_at": at, "updated_at": at})
        for offset in range(0, len(comment_rows), 5000):
            connection.execute(sa.insert(comments_t), comment_rows[offset:offset + 5000])
    return {"authors": len(author_ids), "readers": len(reader_ids), "tags": len(tag_ids), "posts": len(post_ids),
            "post_tags": len(link_rows), "comments": len(comment_rows), "body_variants": len(bodies)}
