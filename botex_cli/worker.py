"""``botex-cli worker``: a Celery worker that runs bots."""

from __future__ import annotations

import click

from botex_cli import options


@click.command()
@click.option("-Q", "--queues", default=None,
              help="Comma-separated queues to take bots from; default: every provider's queue, "
                   "as 'botex-cli submit' sends them (botex.openai, botex.anthropic, ...), and BOTEX_QUEUE's "
                   "when it is set [env BOTEX_WORKER_QUEUES].")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), default=None,
              help="Bots at once (default 16). Bots over HTTP cost little (hundreds fit one worker); a bot in a "
                   "Chromium tab takes about 50 MB and more CPU (about 16 per 2 cores) [env BOTEX_WORKER_CONCURRENCY].")
@click.option("-n", "--hostname", default=None,
              help="Worker name; %h is the host name (default: botex@<host>-<pid>) [env BOTEX_WORKER_NAME].")
@click.option("-l", "--loglevel", default="INFO", show_default=True)
def worker(queues: str | None, concurrency: int | None, hostname: str | None, loglevel: str) -> None:
    """Run a worker of the fleet (needs BOTEX_BROKER_URL)."""
    import os
    import socket

    from botex_worker.app import app
    from botex_worker.queues import worker_queues
    from botex_worker.settings import FleetSettings
    from botex_core.settings import resolve

    fleet = resolve(FleetSettings, worker_queues=queues, worker_concurrency=concurrency, worker_name=hostname)
    options.require_broker(fleet.embedded, "a worker needs the fleet's broker")
    name = fleet.worker_name or f"botex@{socket.gethostname()}-{os.getpid()}"
    # Celery's worker_main drops the worker's exit code; start() returns it.
    queues = fleet.worker_queues or ",".join(worker_queues(fleet.queue))
    code = app.start(["worker", "-Q", queues, "-c", str(fleet.worker_concurrency), "-P", "threads",
                      "-E", "-n", name, "-l", loglevel, "--without-gossip", "--without-mingle"])
    if code:
        raise SystemExit(code)
