"""Options shared by several commands (each also comes from the environment or a .env file), and their shared check."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from botex_core.errors import ConfigurationError
from botex_core.settings import DEFAULT_BOTEX_DB, DEFAULT_MODEL, DEFAULT_OTREE_SERVER_URL, DRIVERS

FC = TypeVar("FC", bound=Callable[..., Any])


def _botex_db_option(**extra: Any) -> Callable[[FC], FC]:
    return click.option(
        "-b", "--botex-db", envvar="BOTEX_DB", default=DEFAULT_BOTEX_DB, show_default=True,
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
    "-u", "--otree-server-url", envvar="OTREE_SERVER_URL", default=DEFAULT_OTREE_SERVER_URL, show_default=True,
    help="oTree server URL [env OTREE_SERVER_URL].",
)
otree_rest_key = click.option(
    "-r", "--otree-rest-key", envvar="OTREE_REST_KEY", default=None,
    help="oTree REST key, needed in DEMO and STUDY mode [env OTREE_REST_KEY].",
)
model = click.option(
    "-m", "--model", envvar="LLM_MODEL", default=DEFAULT_MODEL, show_default=True,
    help="LiteLLM model string, or 'llamacpp' [env LLM_MODEL].",
)
api_base = click.option(
    "-a", "--api-base", envvar="API_BASE", default=None,
    help="Base URL of the LLM server [env API_BASE].",
)
driver = click.option(
    "--driver", envvar="BOTEX_DRIVER", type=click.Choice(DRIVERS), default=None,
    help="How the bots see their pages: auto (over HTTP, in Chromium from a page that needs JavaScript), "
         "http or browser [env BOTEX_DRIVER; default auto].",
)
queue = click.option(
    "--queue", envvar="BOTEX_QUEUE", default=None,
    help="Queue for the bots; by default one per LLM provider (botex.openai, ...) [env BOTEX_QUEUE].",
)


def require_broker(why: str) -> None:
    """Stop the command with one line when no fleet broker is configured; ``why`` says what needs it."""
    from botex_worker.settings import fleet_settings

    if fleet_settings().embedded:
        raise click.ClickException(f"BOTEX_BROKER_URL is not set: {why}")
