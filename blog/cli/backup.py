"""``flask export PATH`` and ``flask import PATH``: backups of the content and the media files."""
import sys

import click

from blog.services import backup


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--with-secrets", is_flag=True, help="Include password hashes (restored users keep their passwords).")
def export_command(path, with_secrets):
    """Write users, posts with revisions, tags, comments, pages, media rows and files to PATH (.tar.gz)."""
    with click.progressbar(length=backup.steps(), label="Exporting", file=sys.stderr) as bar:
        manifest = backup.export_archive(path, with_secrets=with_secrets, progress=bar.update)
    rows = sum(manifest["counts"].values())
    click.echo(f"Wrote {path}: {rows} rows, {manifest['files']} files, schema {manifest['schema_revision']}.")
    for key in manifest["missing_files"]:
        click.echo(f"Warning: media file {key} was missing from storage and is not in the archive.", err=True)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the archive and report conflicts; write nothing.")
def import_command(path, dry_run):
    """Restore PATH into an empty database and bucket. Refuses (exit 1) when anything conflicts."""
    try:
        manifest, conflicts = backup.plan_import(path)
    except backup.BackupError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    if conflicts:
        for conflict in conflicts:
            click.echo(f"Conflict: {conflict}", err=True)
        click.echo(f"{len(conflicts)} conflict(s): nothing was imported.", err=True)
        sys.exit(1)
    rows = sum(manifest["counts"].values())
    if dry_run:
        click.echo(f"Dry run: {path} is intact ({rows} rows, {manifest['files']} files) and fits this database.")
        return
    with click.progressbar(length=len(backup.TABLES) + manifest["files"], label="Importing", file=sys.stderr) as bar:
        backup.import_archive(path, progress=bar.update)
    click.echo(f"Imported {rows} rows and {manifest['files']} files from {path}.")
    if not manifest["with_secrets"]:
        click.echo("Passwords were not in the archive: users sign in after resetting theirs.")
