"""``botex``: one command that runs an oTree session with LLM bots, asking for what it is not told.

Each value comes from its option, else from the environment (or the ``--config``
file) unless ``--ignore``, else from a question when a person is at the
terminal. Without a terminal a missing value stops the command before any work
starts, with the option that would supply it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any
from pathlib import Path
from urllib.parse import urlparse

import click

from botex_cli.errors import BotexCommand
from botex_cli.progress import check_writable, fail_unless_all_finished, run_bots_with_progress
from botex_cli.version import package_version
from botex_core.settings import (
    DEFAULT_BOTEX_DB, DEFAULT_ENV_FILE, DEFAULT_MODEL, DEFAULT_OTREE_SERVER_URL, DRIVERS, CommandSettings, load_botex_env,
    resolve,
)
from botex_core.llm.client import LLAMACPP_DEFAULT_URL


class Answers:
    """Where each setting comes from: the option, the environment, or a question to the person at the terminal."""

    def __init__(self, use_environment: bool, interactive: bool) -> None:
        self.interactive = interactive
        self._environment = resolve(CommandSettings) if use_environment else CommandSettings.model_construct()

    def given(self, value: Any, setting: str) -> Any:
        """The option's value, else the environment's ``setting`` of :class:`CommandSettings` (unless ignored)."""
        return value if value is not None else getattr(self._environment, setting)

    def ask(self, question: str, option: str, **prompt: Any) -> Any:
        """Ask the person at the terminal; without one, stop with the option that answers it."""
        if not self.interactive:
            raise click.UsageError(f"{question.rstrip('?:')}: not given and no terminal to ask; use {option}")
        return click.prompt(question, **prompt)


@dataclass
class StartedServers:
    """Servers this command started, so that it can stop them again."""

    llamacpp: subprocess.Popen | None = None
    otree: subprocess.Popen | None = None


@click.command(cls=BotexCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_version(), prog_name="botex")
@click.option("-c", "--config", default=DEFAULT_ENV_FILE, show_default=True, help="dotenv file with the botex settings.")
@click.option("-i", "--ignore", is_flag=True, help="Ignore environment variables and the config file.")
@click.option("-b", "--botex-db", help=f"botex database: SQLite file or SQLAlchemy URL [env BOTEX_DB; default {DEFAULT_BOTEX_DB}].")
@click.option("-u", "--otree-server-url", help=f"oTree server URL [env OTREE_SERVER_URL; default {DEFAULT_OTREE_SERVER_URL}].")
@click.option("-r", "--otree-rest-key", help="oTree REST key, for servers in DEMO or STUDY mode [env OTREE_REST_KEY].")
@click.option("-m", "--model", help="LiteLLM model string, or 'llamacpp' for a local llama.cpp server [env LLM_MODEL; asked if missing].")
@click.option("-k", "--api-key", help="API key of the LLM provider [env API_KEY or the provider's own variable; asked if missing].")
@click.option("-a", "--api-base", help=f"Base URL of the LLM server [env API_BASE; {LLAMACPP_DEFAULT_URL} for llamacpp].")
@click.option("--llamacpp-server", help="llama-server executable, to start one for 'llamacpp' [env LLAMACPP_SERVER_PATH].")
@click.option("--llamacpp-local-llm", help="GGUF model file for that server [env LLAMACPP_LOCAL_LLM_PATH].")
@click.option("-s", "--session-config", help="oTree session config [env OTREE_SESSION_CONFIG; chosen from a list if missing].")
@click.option("-p", "--nparticipants", type=click.IntRange(min=1), help="Participants [env OTREE_NPARTICIPANTS; default: the config's num_demo_participants].")
@click.option("-n", "--nhumans", type=click.IntRange(min=0), help="Human participants [env OTREE_NHUMANS; asked if missing, 0 without a terminal].")
@click.option("-e", "--export-csv-file", help="CSV file for the bots' answers [asked after the session if missing].")
@click.option("--driver", type=click.Choice(DRIVERS), help="How the bots see their pages: auto, http or browser [env BOTEX_DRIVER; default auto].")
@click.option("-x", "--no-throttle", is_flag=True, help="Do not back off and retry when the LLM provider limits the rate.")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True),
              help="Stop the bots once they spent this many US dollars, at the model's list price [env BOTEX_MAX_COST].")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Stop the bots once they used this many tokens [env BOTEX_MAX_TOKENS].")
@click.option("-v", "--verbose", is_flag=True, help="Print botex's log while running.")
def botex(config: str, ignore: bool, verbose: bool, **options: Any) -> None:
    """Run an oTree session with LLM bots: create it, run the bots, export their answers.

    Options not given come from the environment or the config file; what is
    still missing is asked for when a person is at the terminal.
    """
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not ignore:
        _load_config(config)
    answers = Answers(use_environment=not ignore, interactive=sys.stdin.isatty())
    servers = StartedServers()
    try:
        _run(answers, servers, options)
    finally:
        _stop(servers, answers)


def _load_config(config: str) -> None:
    if os.path.exists(config):
        load_botex_env(config)
        click.echo(f"settings from {config}", err=True)
    elif config != DEFAULT_ENV_FILE:
        raise click.UsageError(f"config file {config} does not exist")


def _run(answers: Answers, servers: StartedServers, options: dict[str, Any]) -> None:
    import botex_fleet
    from botex_core.errors import OtreeUnreachableError
    from botex_core.otree.client import OtreeClient
    from botex_worker.queues import queue_for

    botex_db = answers.given(options["botex_db"], "botex_db") or DEFAULT_BOTEX_DB
    otree_url = answers.given(options["otree_server_url"], "otree_server_url") or DEFAULT_OTREE_SERVER_URL
    rest_key = answers.given(options["otree_rest_key"], "otree_rest_key")
    export_file = options["export_csv_file"]
    if export_file is None and not answers.interactive:
        raise click.UsageError("no file for the bots' answers and no terminal to ask; use -e/--export-csv-file")
    if export_file:
        check_writable(Path(export_file), folder=False)
    try:
        OtreeClient(otree_url, rest_key, timeout=5).version()
    except OtreeUnreachableError:
        servers.otree = _offer_otree_server(answers, otree_url, rest_key)
    llm = _llm_settings(answers, servers, options)
    queue_for(llm["model"])  # a model of an unknown provider stops here, before a session is made
    session_config, nparticipants = _session_choice(answers, otree_url, rest_key, options)
    nhumans = _nhumans(answers, options)

    session = botex_fleet.init_otree_session(
        session_config, nparticipants, nhumans,
        botex_db=botex_db, otree_server_url=otree_url, otree_rest_key=rest_key,
    )
    code = session["session_id"]
    click.echo(f"session {code} ({session_config}): {nparticipants - nhumans} bot(s), {nhumans} human(s)")
    for url in session["human_urls"]:
        click.echo(f"  human: {url}")
    click.echo(f"monitor: {otree_url}/SessionMonitor/{code}")
    run_bots_with_progress(code, botex_db, throttle=not options["no_throttle"], driver=options["driver"],
                           max_cost=options["max_cost"], max_tokens=options["max_tokens"], **llm)
    click.echo(f"session {code} done; oTree's data: {otree_url}/SessionData/{code}")

    if export_file is None:
        export_file = click.prompt("CSV file for the bots' answers (Enter to skip)", default="", show_default=False).strip()
    if export_file:
        botex_fleet.export_response_data(export_file, botex_db, code)
        click.echo(f"answers written to {export_file}")
    fail_unless_all_finished(code, botex_db)


def _offer_otree_server(answers: Answers, otree_url: str, rest_key: str | None) -> subprocess.Popen:
    from botex_fleet import start_otree_server

    if not answers.interactive:
        raise click.ClickException(f"oTree server at {otree_url} is not reachable")
    click.echo(f"oTree server at {otree_url} is not reachable.")
    if not click.confirm("Start an oTree server here?", default=True):
        raise click.ClickException("no oTree server to run the session on")
    project = click.prompt("oTree project folder", default="otree")
    port = urlparse(otree_url).port or 8000
    return start_otree_server(project, port=port, auth_level="STUDY" if rest_key else None, rest_key=rest_key)


def _llm_settings(answers: Answers, servers: StartedServers, options: dict[str, Any]) -> dict[str, Any]:
    """model, api_key and api_base for the bots; starts llama-server when asked to and none answers."""
    server_path = answers.given(options["llamacpp_server"], "llamacpp_server_path")
    model_path = answers.given(options["llamacpp_local_llm"], "llamacpp_local_llm_path")
    model = answers.given(options["model"], "llm_model")
    if model is None and server_path and model_path:
        model = "llamacpp"
    if model is None:
        model = answers.ask("LLM model (a LiteLLM model string, or 'llamacpp')", "-m/--model", default=DEFAULT_MODEL)
    api_base = answers.given(options["api_base"], "api_base")
    if model == "llamacpp":
        api_base = api_base or LLAMACPP_DEFAULT_URL
        servers.llamacpp = _ensure_llamacpp(api_base, server_path, model_path)
        return {"model": model, "api_base": api_base}
    api_key = answers.given(options["api_key"], "api_key")
    if api_key is None:
        missing = _missing_provider_keys(model)
        if missing:
            api_key = answers.ask(f"API key for {model} ({' or '.join(missing)} is not set)", "-k/--api-key", hide_input=True)
    return {"model": model, "api_key": api_key, "api_base": api_base}


def _ensure_llamacpp(api_base: str, server_path: str | None, model_path: str | None) -> subprocess.Popen | None:
    from botex_fleet import start_llamacpp_server
    from botex_core.llm.llamacpp import llamacpp_server_is_up

    if llamacpp_server_is_up(api_base):
        click.echo(f"llama.cpp server at {api_base}")
        return None
    if not (server_path and model_path):
        raise click.ClickException(
            f"no llama.cpp server at {api_base}; to start one, give --llamacpp-server and --llamacpp-local-llm"
        )
    click.echo(f"starting llama-server at {api_base} ...")
    return start_llamacpp_server({"server_path": server_path, "local_llm_path": model_path, "server_url": api_base})


def _missing_provider_keys(model: str) -> list[str]:
    """Environment variables LiteLLM would need for ``model`` and does not find."""
    from botex_core.llm.litellm_adapter import missing_keys

    return missing_keys(model)


def _session_choice(answers: Answers, otree_url: str, rest_key: str | None, options: dict[str, Any]) -> tuple[str, int]:
    from botex_fleet import get_session_configs

    configs = {config["name"]: config for config in get_session_configs(otree_url, rest_key)}
    if not configs:
        raise click.ClickException(f"the oTree server at {otree_url} has no session configs")
    name = answers.given(options["session_config"], "otree_session_config")
    if name is None:
        names = list(configs)
        if answers.interactive:
            for number, config_name in enumerate(names, start=1):
                click.echo(f"{number:>3}: {config_name}")
        number = answers.ask("Session config (number)", "-s/--session-config", type=click.IntRange(1, len(names)))
        name = names[number - 1]
    if name not in configs:
        raise click.ClickException(f"unknown session config '{name}'; the server has: {', '.join(configs)}")
    nparticipants = answers.given(options["nparticipants"], "otree_nparticipants")
    if nparticipants is None:
        nparticipants = configs[name].get("num_demo_participants")
    if nparticipants is None:
        raise click.UsageError(f"'{name}' sets no num_demo_participants; use -p/--nparticipants")
    return name, _count(nparticipants, "participants")


def _nhumans(answers: Answers, options: dict[str, Any]) -> int:
    nhumans = answers.given(options["nhumans"], "otree_nhumans")
    if nhumans is None:
        nhumans = click.prompt("Human participants", default=0, type=click.IntRange(min=0)) if answers.interactive else 0
    return _count(nhumans, "humans", minimum=0)


def _count(value: Any, what: str, minimum: int = 1) -> int:
    """``value`` (an option or a variable's text) as a whole number of at least ``minimum``."""
    try:
        number = int(value)
    except ValueError:
        raise click.UsageError(f"number of {what} must be a whole number, not '{value}'") from None
    if number < minimum:
        raise click.UsageError(f"number of {what} must be at least {minimum}, not {number}")
    return number


def _stop(servers: StartedServers, answers: Answers) -> None:
    from botex_fleet import stop_llamacpp_server, stop_otree_server

    if servers.llamacpp is not None:
        stop_llamacpp_server(servers.llamacpp)
        click.echo("llama-server stopped")
    if servers.otree is not None:
        if answers.interactive and not click.confirm("Stop the oTree server?", default=True):
            click.echo(f"oTree server left running (pid {servers.otree.pid})")
            return
        stop_otree_server(servers.otree)
        click.echo("oTree server stopped")
