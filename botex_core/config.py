"""Settings read from the environment, with the defaults of the botex spec."""

from __future__ import annotations

import logging
import os

from dotenv import load_dotenv

logger = logging.getLogger(__name__)

DEFAULT_BOTEX_DB = "botex.sqlite3"
DEFAULT_OTREE_SERVER_URL = "http://localhost:8000"
DEFAULT_ENV_FILE = "botex.env"


def load_botex_env(env_file: str = DEFAULT_ENV_FILE) -> bool:
    """Load botex settings from a dotenv file into the environment.

    Variables already set in the environment keep their values.

    Args:
        env_file: Path of the dotenv file. Defaults to ``botex.env``.

    Returns:
        True if the file set at least one variable, False if it set none or
        does not exist.
    """
    if not os.path.exists(env_file):
        logger.warning("No botex settings loaded: '%s' does not exist", env_file)
        return False
    loaded = load_dotenv(env_file, override=False)
    if loaded:
        logger.info("Loaded botex settings from '%s'", env_file)
    else:
        logger.info("'%s' set no new variables", env_file)
    return loaded


def setting(value: str | None, variable: str, default: str | None = None) -> str | None:
    """Return ``value`` if given, else the environment ``variable``, else ``default``."""
    if value is not None:
        return value
    from_env = os.environ.get(variable)
    if from_env:
        return from_env
    return default


def botex_db_setting(botex_db: str | None) -> str:
    """The botex database: the argument, else ``BOTEX_DB``, else ``botex.sqlite3``."""
    return setting(botex_db, "BOTEX_DB", DEFAULT_BOTEX_DB)  # type: ignore[return-value]


def otree_server_url_setting(server_url: str | None) -> str:
    """The oTree server URL without a trailing slash: argument, ``OTREE_SERVER_URL``, default."""
    url = setting(server_url, "OTREE_SERVER_URL", DEFAULT_OTREE_SERVER_URL)
    return url.rstrip("/")  # type: ignore[union-attr]


def otree_rest_key_setting(rest_key: str | None) -> str | None:
    """The oTree REST key: the argument, else ``OTREE_REST_KEY``, else None."""
    return setting(rest_key, "OTREE_REST_KEY")
