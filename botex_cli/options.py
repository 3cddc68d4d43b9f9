"""Options shared by several commands, and their shared check.

An option that is not given takes its default from the settings class that reads its environment
variable (:func:`from_settings`): the settings classes are the one source of every variable, for
the commands as for the Python API and the workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from botex_core.errors import ConfigurationError
from botex_core.settings import (
    DEFAULT_BOTEX_DB, DEFAULT_MODEL, DEFAULT_OTREE_SERVER_URL, DRIVERS, BotexSettings, CommandSettings, OtreeSettings,
    resolve,
)

FC = TypeVar("FC", bound=Callable[..., Any])


def from_settings(settings_class: type, field: str, fallback: Any = None) -> Callable[[], Any]:
    """An option's default: ``field`` of ``settings_class`` as the environment sets it, else ``fallback``."""
    return lambda: getattr(resolve(settings_class), field) or fallback


def _botex_db_option(**extra: Any) -> Callable[[FC], FC]:
    return click.option(
        "-b", "--botex-db", default=from_settings(BotexSettings, "db"), show_default=DEFAULT_BOTEX_DB,
        help="botex database: a SQLite file or a SQLAlchemy URL [env BOTEX_DB].", **extra,
    )


def _existing(ctx: click.Context, param: click.Parameter, botex_db: str) -> str:
    if "://" not in botex_db and not os.path.isfile(botex_db):
        raise ConfigurationError(
            f"no botex database at '{botex_db}': run where it is, or give it with --botex-db or BOTEX_DB"
        )
    return botex_db


# The database bots write to (made on first use), and one that commands only read (it must exist).
botex_db = _botex_db_option()
existing_botex_db = _botex_db_option(callback=_existing)
otree_server_url = click.option(
    "-u", "--otree-server-url", default=from_settings(OtreeSettings, "server_url"), show_default=DEFAULT_OTREE_SERVER_URL,
    help="oTree server URL [env OTREE_SERVER_URL].",
)
otree_rest_key = click.option(
    "-r", "--otree-rest-key", default=from_settings(OtreeSettings, "rest_key"),
    help="oTree REST key, needed in DEMO and STUDY mode [env OTREE_REST_KEY].",
)
model = click.option(
    "-m", "--model", default=from_settings(CommandSettings, "llm_model", DEFAULT_MODEL), show_default=DEFAULT_MODEL,
    help="LiteLLM model string, or 'llamacpp' [env LLM_MODEL].",
)
api_base = click.option(
    "-a", "--api-base", default=from_settings(CommandSettings, "api_base"),
    help="Base URL of the LLM server [env API_BASE].",
)
driver = click.option(
    "--driver", type=click.Choice(DRIVERS), default=None,
    help="How the bots see their pages: auto (over HTTP, in Chromium from a page that needs JavaScript), "
         "http or browser [env BOTEX_DRIVER; default auto].",
)
queue = click.option(
    "--queue", default=None,
    help="Queue for the bots; by default one per LLM provider (botex.openai, ...) [env BOTEX_QUEUE].",
)


def _given(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A required option that neither the command line nor its variable gave is missing."""
    if value is None:
        raise click.MissingParameter(ctx=ctx, param=param)
    return value


session_config = click.option(
    "-s", "--session-config", default=from_settings(CommandSettings, "otree_session_config"), callback=_given,
    help="oTree session config [env OTREE_SESSION_CONFIG; required].",
)
nhumans = click.option(
    "-n", "--nhumans", type=click.IntRange(min=0), default=from_settings(CommandSettings, "otree_nhumans", 0),
    show_default="0", help="Human participants per session [env OTREE_NHUMANS].",
)


def nparticipants(help_text: str) -> Callable[[FC], FC]:
    """The option of the participants per session (required, or from ``OTREE_NPARTICIPANTS``)."""
    return click.option("-p", "--nparticipants", type=click.IntRange(min=1), callback=_given,
                        default=from_settings(CommandSettings, "otree_nparticipants"),
                        help=f"{help_text} [env OTREE_NPARTICIPANTS; required].")


def live_limits(command: FC) -> FC:
    """The options of the bots' pace on interactive pages (live pages and chats)."""
    for option in reversed((
        click.option("--live-look-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
                      help="On a live page or chat: seconds between looks when nothing changes "
                           "[env BOTEX_LIVE_LOOK_SECONDS; default 5]."),
        click.option("--live-max-calls", type=click.IntRange(min=0), default=None,
                     help="The most LLM calls a bot makes on one live page or chat "
                          "[env BOTEX_LIVE_MAX_CALLS; default 30]."),
        click.option("--live-max-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="The most seconds a bot decides on one live page or chat "
                          "[env BOTEX_LIVE_MAX_SECONDS; default 600]."),
    )):
        command = option(command)
    return command


def spend_cap(command: FC) -> FC:
    """The options of a spend cap for the bots submitted together (a session, a study)."""
    command = click.option("--max-tokens", type=click.IntRange(min=1), default=None,
                           help="Stop the bots once they used this many tokens together [env BOTEX_MAX_TOKENS].")(command)
    return click.option("--max-cost", type=click.FloatRange(min=0, min_open=True), default=None,
                        help="Stop the bots once they spent this many US dollars together, at the models' list "
                             "prices [env BOTEX_MAX_COST].")(command)


def require_broker(embedded: bool, why: str) -> None:
    """Stop the command with one line when no fleet broker is configured (``embedded``); ``why`` says
    what needs it."""
    if embedded:
        raise click.ClickException(f"BOTEX_BROKER_URL is not set: {why}")
