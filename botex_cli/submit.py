"""``botex-cli submit``: create sessions and put their bots on the fleet's queue."""

from __future__ import annotations

import click

from botex_cli import options


@click.command()
@options.session_config
@options.nparticipants("Participants per session")
@options.nhumans
@click.option("--sessions", type=click.IntRange(min=1), default=1, show_default=True, help="How many sessions to create at once.")
@options.model
@options.api_base
@options.driver
@options.queue
@options.live_limits
@options.spend_cap
@options.botex_db
@options.otree_server_url
@options.otree_rest_key
@click.option("--wait", is_flag=True, help="Show progress until every bot has ended.")
def submit(session_config: str, nparticipants: int, nhumans: int, sessions: int, model: str, api_base: str | None,
           driver: str | None, queue: str | None, botex_db: str, otree_server_url: str, otree_rest_key: str | None, wait: bool,
           **live: float | None) -> None:
    """Create sessions and queue one task per bot for the fleet's workers."""
    from botex_fleet import init_otree_session
    from botex_worker.dispatch import check_broker, enqueue, queues_without_workers, session_bots
    from botex_worker.queues import queue_for
    from botex_worker.submission import Submission

    submission = Submission.resolved(driver, queue, **live)
    options.require_broker(submission.embedded, "there is no fleet to submit to (use 'botex-cli run')")
    target = queue_for(model, submission.queue)  # an unknown provider stops here, before anything is made
    check_broker()
    codes = []
    for _ in range(sessions):
        created = init_otree_session(session_config, nparticipants, nhumans, botex_db=botex_db,
                                     otree_server_url=otree_server_url, otree_rest_key=otree_rest_key)
        codes.append(created["session_id"])
        # The sessions submitted together share one spend cap, named after the first.
        bots = session_bots(created["session_id"], botex_db, submission, model=model, api_base=api_base,
                            budget=f"session:{codes[0]}")
        enqueue(bots, botex_db, submission)
        click.echo(f"session {created['session_id']}: {len(bots)} bot(s) queued")
        for url in created["human_urls"]:
            click.echo(f"  human: {url}")
    if queues_without_workers([target]):
        click.echo(f"no live worker takes bots from {target}: start one with 'botex-cli worker -Q {target}'", err=True)
    if wait:
        from botex_cli.progress import follow

        if not follow(codes, botex_db):
            raise click.ClickException("some bots did not finish: see 'botex-cli status'")
