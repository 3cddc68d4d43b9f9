"""``botex-cli flower``: Flower, the web monitor of the fleet's workers, queues and bot tasks, behind basic auth."""

from __future__ import annotations

import click

from botex_cli import options


@click.command()
@click.option("--address", envvar="FLOWER_ADDRESS", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface [env FLOWER_ADDRESS].")
@click.option("--port", envvar="FLOWER_PORT", type=click.IntRange(1, 65535), default=5555, show_default=True,
              help="Port to listen on [env FLOWER_PORT].")
def flower(address: str, port: int) -> None:
    """Serve Flower for the fleet (needs BOTEX_BROKER_URL and FLOWER_BASIC_AUTH=user:password).

    Each bot task is named 'bot <session>/<participant>'; its arguments hold
    no secret. Further Flower settings come from FLOWER_* variables.
    """
    from botex_core.settings import CommandSettings, resolve
    from botex_worker.app import app

    options.require_broker("Flower watches the fleet's broker")
    credentials = resolve(CommandSettings).flower_basic_auth or ""
    if not all(":" in pair and pair.split(":", 1)[1] for pair in credentials.split(",")):
        raise click.ClickException("set FLOWER_BASIC_AUTH=user:password (comma-separate several users)")
    code = app.start(["flower", f"--address={address}", f"--port={port}", "--purge_offline_workers=300",
                      "--tasks_columns=name,uuid,state,received,started,runtime,worker,retries,exception"])
    if code:
        raise SystemExit(code)
