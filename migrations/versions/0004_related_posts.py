"""Related posts: up to three per post, stored by a job so the post page does no work for them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 22:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "related_posts",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("shared_tags", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_related_posts_post_id_posts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["related_id"], ["posts.id"], name=op.f("fk_related_posts_related_id_posts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id", "related_id", name=op.f("pk_related_posts")),
    )
    op.create_index("ix_related_posts_related_id", "related_posts", ["related_id"], unique=False)
    # Existing posts get their lists from `flask posts refresh-related` (the upgrade does no heavy work).


def downgrade():
    op.drop_index("ix_related_posts_related_id", table_name="related_posts")
    op.drop_table("related_posts")
