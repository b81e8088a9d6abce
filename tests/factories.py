"""Test data factories: small functions with sensible defaults, each committing its rows."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from werkzeug.security import generate_password_hash

from blog import sanitize
from blog.extensions import db
from blog.models.comment import Comment
from blog.models.post import Post
from blog.models.user import User
from blog.services import posts as post_service

_seq = itertools.count(1)
PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # fast: tests only


def now() -> datetime:
    return datetime.now(timezone.utc)


def make_user(role: str = "author", **fields) -> User:
    n = next(_seq)
    values = dict(username=f"user{n}", email=f"user{n}@example.com", display_name=f"User {n}", role=role,
                  password_hash=_PASSWORD_HASH, email_confirmed_at=now())
    values.update(fields)
    user = User(**values)
    db.session.add(user)
    db.session.commit()
    return user


def make_post(author: User | None = None, *, status: str = "published", published_at: datetime | None = None,
              title: str | None = None, source: str = "Some *Markdown* body.", tags=(), **fields) -> Post:
    """A post written through the real service (slug, sanitizer, excerpt), then adjusted as asked."""
    author = author or make_user("author")
    n = next(_seq)
    post = post_service.create_post(actor=author, title=title or f"Post number {n}", source=source, tags=tags,
                                    status="draft")
    post.status = status
    if status == "published":
        post.published_at = published_at or (now() - timedelta(minutes=n))
    else:
        post.published_at = published_at
    for key, value in fields.items():
        setattr(post, key, value)
    db.session.commit()
    return post


def make_comment(post: Post, author: User | None = None, *, status: str = "approved", source: str = "Nice post!") -> Comment:
    source = sanitize.clean_text(source)
    rendered = sanitize.render_markdown(source, comment=True, internal_hosts=("blog.test",))
    comment = Comment(post=post, author=author or make_user("reader"), source=source, body_html=rendered.html,
                      sanitizer_version=rendered.version, status=status)
    db.session.add(comment)
    db.session.commit()
    return comment


def login(client, user: User) -> None:
    """Sign ``user`` in on ``client`` without going through the form (the auth tests cover the form)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
