"""``flask check``: a production readiness report."""
import sys

import click

from blog.services import readiness


@click.command("check")
def check():
    """Check the production configuration and every service it needs; exits 1 when one fails."""
    results = readiness.report()
    width = max(len(r.name) for r in results)
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'}  {r.name:<{width}}  {r.detail}")
    failed = [r.name for r in results if not r.ok]
    if failed:
        click.echo(f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}", err=True)
        sys.exit(1)
    click.echo(f"All {len(results)} checks passed.")
