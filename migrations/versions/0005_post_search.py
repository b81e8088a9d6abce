"""Full-text search index of posts: ``post_search``, filled from the existing posts.

PostgreSQL: a table with a generated, weighted ``tsvector`` (A title, B tags, C excerpt, D body) and a GIN
index on it. SQLite: an FTS5 virtual table (porter stemming) whose rowid is the post id. The app keeps the
rows current (blog/services/search.py); the table stays out of the SQLAlchemy metadata, and env.py keeps
autogenerate from comparing it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 23:30:00

"""
import html
import re

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Written out here, not imported: a migration must not depend on today's app code.
# Must match blog.services.search_index.TEXT_SEARCH_CONFIG.
CONFIG = "english"
DOCUMENT = " || ".join(
    f"setweight(to_tsvector('{CONFIG}'::regconfig, coalesce({column}, '')), '{weight}')"
    for column, weight in (("title", "A"), ("tags", "B"), ("excerpt", "C"), ("body", "D"))
)
BATCH = 500

_TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain(text):
    return " ".join(_CONTROL.sub(" ", text or "").split())


def _text_of(body_html):
    # body_html is already sanitized: dropping its tags and decoding entities leaves the text readers see.
    return _plain(html.unescape(_TAG.sub(" ", body_html or "")))


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_table(
            "post_search",
            sa.Column("post_id", sa.Integer(), nullable=False),
            sa.Column("title", sa.Text(), nullable=False),
            sa.Column("excerpt", sa.Text(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("tags", sa.Text(), nullable=False),
            sa.Column("document", postgresql.TSVECTOR(), sa.Computed(DOCUMENT, persisted=True), nullable=False),
            sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_post_search_post_id_posts"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_search")),
        )
        op.create_index("ix_post_search_document", "post_search", ["document"], postgresql_using="gin")
    else:
        op.execute("CREATE VIRTUAL TABLE post_search USING fts5(title, excerpt, body, tags, "
                   "tokenize='porter unicode61')")
    _backfill(bind)


def _backfill(bind):
    posts = sa.table("posts", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("title", sa.Text),
                     sa.column("excerpt", sa.Text), sa.column("body_html", sa.Text))
    tags = sa.table("tags", sa.column("id", sa.Integer), sa.column("name", sa.Text))
    post_tags = sa.table("post_tags", sa.column("post_id", sa.Integer), sa.column("tag_id", sa.Integer))
    key = "post_id" if bind.dialect.name == "postgresql" else "rowid"
    index = sa.table("post_search", sa.column(key, sa.Integer), sa.column("title", sa.Text),
                     sa.column("excerpt", sa.Text), sa.column("body", sa.Text), sa.column("tags", sa.Text))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(posts.c.id, posts.c.title, posts.c.excerpt, posts.c.body_html)
            .where(posts.c.kind == "post", posts.c.id > last).order_by(posts.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        names = {}
        for post_id, name in bind.execute(
            sa.select(post_tags.c.post_id, tags.c.name).join(tags, tags.c.id == post_tags.c.tag_id)
            .where(post_tags.c.post_id.in_([row.id for row in rows])).order_by(post_tags.c.post_id, tags.c.name)
        ):
            names.setdefault(post_id, []).append(name)
        bind.execute(index.insert(), [
            {key: row.id, "title": _plain(row.title), "excerpt": _plain(row.excerpt), "body": _text_of(row.body_html),
             "tags": _plain(", ".join(names.get(row.id, [])))}
            for row in rows
        ])
        last = rows[-1].id


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_post_search_document", table_name="post_search", postgresql_using="gin")
    op.execute("DROP TABLE post_search")
