"""``botex-cli llamacpp``: a local llama.cpp server that outlives the command, stopped by its pid file."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import click

from botex_core.llm.client import LLAMACPP_DEFAULT_URL

PID_FILE_HELP = "File that records the running server [env LLAMACPP_PID_FILE]."


@click.group()
def llamacpp() -> None:
    """Start or stop a local llama.cpp server (llama-server) for the bots."""


@llamacpp.command()
@click.option("--server-path", help="llama-server executable [env LLAMACPP_SERVER_PATH].")
@click.option("--local-llm-path", help="GGUF model file [env LLAMACPP_LOCAL_LLM_PATH].")
@click.option("--server-url", help=f"Where it serves; default {LLAMACPP_DEFAULT_URL} [env LLAMACPP_SERVER_URL].")
@click.option("--num-slots", type=click.IntRange(min=1), help="Requests served in parallel [env LLAMACPP_NUM_SLOTS].")
@click.option("--context-length", type=click.IntRange(min=256), help="Context per slot; default from the model file [env LLAMACPP_CONTEXT_LENGTH].")
@click.option("--log-file", help="The server's log; default llamacpp.log [env LLAMACPP_LOG_FILE].")
@click.option("--pid-file", default=None, help=PID_FILE_HELP)
def start(pid_file: str | None, **settings: str | int | None) -> None:
    """Start llama-server in the background and wait until it serves."""
    from botex_fleet import start_llamacpp_server
    from botex_core.llm.llamacpp import llamacpp_config
    from botex_core.settings import LlamaCppSettings, resolve

    pid_file = _pid_file(pid_file)
    record = Path(pid_file)
    if record.exists():
        raise click.ClickException(f"{pid_file} exists: a server may already run (stop it with 'botex-cli llamacpp stop')")
    config = llamacpp_config({key: value for key, value in settings.items() if value is not None},
                             resolve(LlamaCppSettings))
    process = start_llamacpp_server(config.model_dump())
    record.write_text(json.dumps({"pid": process.pid, "server_url": config.server_url}))
    click.echo(f"llama-server (pid {process.pid}) serves {config.local_llm_path} at {config.server_url}")
    click.echo(f"use --model llamacpp --api-base {config.server_url}; stop it with 'botex-cli llamacpp stop'")


@llamacpp.command()
@click.option("--pid-file", default=None, help=PID_FILE_HELP)
def stop(pid_file: str | None) -> None:
    """Stop the server that 'botex-cli llamacpp start' left running."""
    from botex_core.processes import stop_detached_group

    pid_file = _pid_file(pid_file)
    record = Path(pid_file)
    try:
        server = json.loads(record.read_text())
    except FileNotFoundError:
        raise click.ClickException(f"{pid_file} does not exist: no server was started from here") from None
    except (json.JSONDecodeError, OSError) as exc:
        raise click.ClickException(f"{pid_file} is unreadable ({exc})") from None
    if _runs_llama_server(server["pid"]):
        stop_detached_group(server["pid"], signal.SIGTERM)
        click.echo(f"llama-server (pid {server['pid']}) at {server['server_url']} stopped")
    else:
        click.echo(f"llama-server (pid {server['pid']}) was no longer running")
    record.unlink()


def _runs_llama_server(pid: int) -> bool:
    """Whether ``pid`` is still a llama-server (and not another process that got its number)."""
    try:
        return b"llama-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _pid_file(given: str | None) -> str:
    """The record of the running server: the option, else ``LLAMACPP_PID_FILE``, else ``llamacpp.pid``."""
    from botex_core.settings import CommandSettings, resolve

    return resolve(CommandSettings, llamacpp_pid_file=given).llamacpp_pid_file
