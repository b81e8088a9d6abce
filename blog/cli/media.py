"""``flask media``: reprocess uploads and clean up storage. Each command calls a media service."""
from __future__ import annotations

import sys

import click

from blog.exceptions import InvalidInput, ServiceError
from blog.permissions import OPERATOR
from blog.services import media_maintenance

media = click.Group("media", help="Maintain uploaded images.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@media.command("reprocess")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--all", "everything", is_flag=True, help="Every upload whose original is stored.")
@click.option("--failed", is_flag=True, help="Failed uploads, and those stuck in processing for 30 minutes.")
def reprocess(ids, everything, failed):
    """Make the variants of IDS (or --all, or --failed) again, in the workers."""
    try:
        selected = media_maintenance.reprocess_selection(actor=OPERATOR, ids=ids, everything=everything,
                                                         failed=failed)
    except InvalidInput as exc:
        _fail(exc.message)
    except ServiceError as exc:
        _fail(exc.message)
    if not selected:
        click.echo("Nothing to reprocess.")
        return
    with click.progressbar(length=len(selected), label="Queueing", show_pos=True, file=sys.stderr) as bar:
        count = media_maintenance.reprocess(actor=OPERATOR, ids=selected, progress=bar.update)
    click.echo(f"Queued {count} upload(s) for processing.")


@media.command("orphans")
@click.option("--delete", "delete", is_flag=True, help="Delete them (otherwise only list them).")
def orphans(delete):
    """List stored objects that belong to no upload, and uploads never finished (pending over a day)."""
    with click.progressbar(length=0, label="Scanning storage", file=sys.stderr) as bar:
        report = media_maintenance.find_orphans(actor=OPERATOR, progress=bar.update)
    for stored in report.objects:
        click.echo(f"object  {stored.key}  {stored.size} bytes")
    for media_id in report.abandoned:
        click.echo(f"upload  {media_id}  never finished")
    total = len(report.objects) + len(report.abandoned)
    if not total:
        click.echo("No orphans.")
        return
    if not delete:
        click.echo(f"{len(report.objects)} orphan object(s) ({report.size} bytes) and {len(report.abandoned)} "
                   "unfinished upload(s). Run with --delete to remove them.")
        return
    with click.progressbar(length=total, label="Deleting", show_pos=True, file=sys.stderr) as bar:
        removed = media_maintenance.delete_orphans(actor=OPERATOR, report=report, progress=bar.update)
    click.echo(f"Deleted {removed} orphan(s).")
