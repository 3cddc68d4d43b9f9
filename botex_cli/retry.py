"""``botex-cli retry``: queue again the bots of a session that did not finish, each as it was."""

from __future__ import annotations

import click

from botex_cli import options


@click.command()
@click.argument("session")
@click.option("-m", "--model", default=None, help="Another LiteLLM model for the bots (default: each bot's own).")
@click.option("-a", "--api-base", default=None, help="Another LLM server base URL (default: each bot's own).")
@options.queue
@options.spend_cap
@options.existing_botex_db
def retry(session: str, model: str | None, api_base: str | None, queue: str | None, botex_db: str,
          **cap: float | None) -> None:
    """Re-enqueue the unfinished and failed bots of SESSION; they resume where they stood.

    Each bot keeps the model, API base, parameters and prompts it was queued
    with; -m and -a change them for all, and the change is stored with the bots.
    Bots stopped by their budget run again too; --max-cost/--max-tokens give the
    budget its new cap.
    """
    from botex_core.store import ledger
    from botex_worker.dispatch import enqueue_again
    from botex_worker.submission import Submission

    submission = Submission.resolved(queue=queue, **cap)
    options.require_broker(submission.embedded, "there is no fleet to retry on")
    bots = ledger.unfinished_bots(session, botex_db)
    if not bots:
        raise click.ClickException(f"session {session} has no unfinished bots")
    enqueue_again(bots, botex_db, submission, model=model, api_base=api_base)
    changed = ", ".join(f"{name} {value}" for name, value in (("model", model), ("api base", api_base)) if value)
    click.echo(f"session {session}: {len(bots)} bot(s) queued again" + (f" with {changed}" if changed else ""))
