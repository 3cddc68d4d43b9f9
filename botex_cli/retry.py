"""``botex-cli retry``: queue again the bots of a session that did not finish."""

from __future__ import annotations

import click

from botex_cli import options


@click.command()
@click.argument("session")
@options.model
@options.api_base
@options.queue
@options.botex_db
def retry(session: str, model: str, api_base: str | None, queue: str | None, botex_db: str) -> None:
    """Re-enqueue the unfinished and failed bots of SESSION; they resume where they stood."""
    from botex_core.store import ledger
    from botex_worker.dispatch import enqueue, session_bots

    options.require_broker("there is no fleet to retry on")
    urls = ledger.unfinished_bot_urls(session, botex_db)
    if not urls:
        raise click.ClickException(f"session {session} has no unfinished bots")
    enqueue(session_bots(session, botex_db, urls, model=model, api_base=api_base), botex_db, queue)
    click.echo(f"session {session}: {len(urls)} bot(s) queued again")
