"""Demo content for a new installation. Idempotent: running it twice adds nothing the first run made."""
from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa

from blog import sanitize
from blog.extensions import db
from blog.jobs import related
from blog.models.comment import Comment
from blog.models.post import Post
from blog.models.user import User
from blog.services import accounts, posts

DEMO_AUTHORS = (
    ("ada", "Ada Lovelace", "author"),
    ("grace", "Grace Hopper", "author"),
    ("edsger", "Edsger Dijkstra", "editor"),
    ("barbara", "Barbara Liskov", "author"),
)
DEMO_READERS = (("reader-one", "Rae Reader"), ("reader-two", "Sam Skimmer"))
DEMO_ADMIN = "demo-admin"
TAGS = ("python", "flask", "databases", "testing", "design", "performance", "writing", "security", "devops")
SUBJECTS = ("Queues", "Indexes", "Templates", "Migrations", "Caches", "Tests", "Deployments", "Sessions")
ANGLES = ("in practice", "from first principles", "without the hype", "at small scale", "for the busy reader")
PARAGRAPHS = (
    "Most of the work in a web application is **reading**: the same rows, rendered the same way, "
    "for people who only want the words. Optimise for them first.",
    "A good rule of thumb: if a page issues more queries as it shows more rows, it will be slow "
    "exactly when it matters. Load what you need *up front*.",
    "Keep the request short. Anything slow or fallible (mail, images, exports) belongs in a worker, "
    "where it can be retried without anyone waiting on it.",
    "Write the test before the fix; it tells you when you are done and keeps you honest later.",
    "Small modules with one reason to change beat clever ones. Future readers, including you, will thank you.",
)
TABLE = "| Step | Why |\n|---|---|\n| Measure | know the cost |\n| Change one thing | know the cause |\n"
CODE = "```python\nfrom blog.app import create_app\n\napp = create_app()\n```"
COMMENTS = ("Thanks, this cleared things up.", "I would add a note on *rollbacks*.", "Bookmarked for later!")


def _ensure_user(username: str, display_name: str, role: str, password: str) -> User:
    user = accounts.get_by_login(username)
    if user is None:
        user = accounts.create_user(
            username=username,
            email=f"{username}@example.com",
            password=password,
            role=role,
            display_name=display_name,
            confirmed=True,
        )
    return user


def _body(rng: random.Random) -> str:
    parts = [rng.choice(PARAGRAPHS) for _ in range(rng.randint(2, 4))]
    parts.insert(1, "## Why it matters")
    if rng.random() < 0.4:
        parts.append(TABLE)
    if rng.random() < 0.4:
        parts.append(CODE)
    return "\n\n".join(parts)


def seed_demo(
    *, posts_count: int = 24, admin_password: str, progress: Callable[[int], None] | None = None
) -> dict:
    """Create demo authors, readers, an admin, ``posts_count`` published posts and approved comments.

    Posts are numbered; those that exist already are skipped, so the function can run again safely.
    Returns counts of what was created. Commits after each post.
    """
    admin_created = accounts.get_by_login(DEMO_ADMIN) is None
    _ensure_user(DEMO_ADMIN, "Site Admin", "admin", admin_password)
    authors = [_ensure_user(u, n, r, secrets.token_urlsafe(16)) for u, n, r in DEMO_AUTHORS]
    readers = [_ensure_user(u, n, "reader", secrets.token_urlsafe(16)) for u, n in DEMO_READERS]
    existing = set(db.session.scalars(sa.select(Post.slug).where(Post.slug.like("demo-%"))))
    start = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    created = 0
    for i in range(1, posts_count + 1):
        slug = f"demo-{i}"
        if slug in existing:
            if progress:
                progress(1)
            continue
        rng = random.Random(i)
        author = authors[i % len(authors)]
        post = posts.create_post(
            actor=author,
            title=f"{rng.choice(SUBJECTS)} {rng.choice(ANGLES)} ({i})",
            source=_body(rng),
            tags=rng.sample(TAGS, rng.randint(1, 3)),
            status="published",
            published_at=min(start + timedelta(hours=13 * i), datetime.now(timezone.utc)),
            slug=slug,
        )
        for j in range(rng.randint(0, 2)):
            rendered = sanitize.render_markdown(COMMENTS[(i + j) % len(COMMENTS)], comment=True)
            db.session.add(
                Comment(post=post, author=readers[(i + j) % len(readers)], source=COMMENTS[(i + j) % len(COMMENTS)],
                        body_html=rendered.html, sanitizer_version=rendered.version, status="approved")
            )
        db.session.commit()
        created += 1
        if progress:
            progress(1)
    if created:
        related.refresh_all()
    return {"posts_created": created, "admin_created": admin_created, "admin_username": DEMO_ADMIN}
