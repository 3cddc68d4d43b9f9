"""``botex-cli flower``: Flower, the web monitor of the fleet's workers, queues and bot tasks, behind basic auth."""

from __future__ import annotations

import click

from botex_cli import options


@click.command()
@click.option("--address", default=None,
              help="Address to listen on (default 127.0.0.1); 0.0.0.0 for every interface [env FLOWER_ADDRESS].")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port to listen on (default 5555) [env FLOWER_PORT].")
def flower(address: str | None, port: int | None) -> None:
    """Serve Flower for the fleet (needs BOTEX_BROKER_URL and FLOWER_BASIC_AUTH=user:password).

    Each bot task is named 'bot <session>/<participant>'; its arguments hold
    no secret. Further Flower settings come from FLOWER_* variables.
    """
    from botex_core.settings import CommandSettings, resolve
    from botex_worker.app import app
    from botex_worker.settings import fleet_settings

    options.require_broker(fleet_settings().embedded, "Flower watches the fleet's broker")
    command = resolve(CommandSettings, flower_address=address, flower_port=port)
    credentials = command.flower_basic_auth or ""
    if not all(":" in pair and pair.split(":", 1)[1] for pair in credentials.split(",")):
        raise click.ClickException("set FLOWER_BASIC_AUTH=user:password (comma-separate several users)")
    code = app.start(["flower", f"--address={command.flower_address}", f"--port={command.flower_port}", "--purge_offline_workers=300",
                      "--tasks_columns=name,uuid,state,received,started,runtime,worker,retries,exception"])
    if code:
        raise SystemExit(code)
