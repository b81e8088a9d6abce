"""``flask posts ...``: maintenance of stored, derived post data."""
from __future__ import annotations

import click

from blog.services import posts as post_service
from blog.services import rerender as rerender_service
from blog.services import search_index

posts = click.Group("posts", help="Maintain posts' derived data.")


@posts.command("refresh-related")
def refresh_related():
    """Recompute every post's related posts (normally kept current by a job on each publish)."""
    count = post_service.refresh_related()
    click.echo(f"Related posts recomputed for {count} posts.")


@posts.command("reindex-search")
def reindex_search():
    """Rebuild the full-text search index (normally kept current on every write)."""
    count = search_index.reindex_all()
    click.echo(f"Search index rebuilt for {count} posts.")


@posts.command("rerender")
@click.option("--all", "everything", is_flag=True, help="Render every row, not only those of an older policy.")
def rerender(everything):
    """Re-render post bodies, comments and bios stored under an older sanitizer policy."""
    counts = rerender_service.rerender_all(force=everything)
    click.echo("Re-rendered {posts} posts and pages, {comments} comments, {bios} bios.".format(**counts))
