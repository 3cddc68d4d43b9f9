"""The settings of botex-fleet, resolved from the environment into typed objects.

Each entry point (a public API call, a command, a task start) resolves what it
needs once, here, and passes the values down; nothing else reads the
environment. A value given as an argument wins over the environment, which
wins over the default of the original botex.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from types import ModuleType
from typing import Any, Literal, TypeVar, get_args

from dotenv import load_dotenv
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from botex_core.errors import ConfigurationError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-2024-08-06"
DEFAULT_BOTEX_DB = "botex.sqlite3"
DEFAULT_OTREE_SERVER_URL = "http://localhost:8000"
DEFAULT_ENV_FILE = "botex.env"
# LiteLLM waits 6,000 s for an answer by default; a provider that hangs should cost a bot less.
DEFAULT_LLM_TIMEOUT_SECONDS = 300.0
SettingsT = TypeVar("SettingsT", bound=BaseSettings)
# How bots may see their pages (``botex_core.bot.drivers``); ``auto`` is the default.
DriverChoice = Literal["auto", "http", "browser"]
DRIVERS: tuple[str, ...] = get_args(DriverChoice)


__all__ = [
    "BotexSettings", "EnvironmentSettings", "CommandSettings", "LlamaCppSettings", "OtreeSettings",
    "DRIVERS", "DEFAULT_BOTEX_DB", "DEFAULT_ENV_FILE", "DEFAULT_LLM_TIMEOUT_SECONDS", "DEFAULT_MODEL", "DEFAULT_OTREE_SERVER_URL",
    "botex_db_setting", "environment_for_child", "load_botex_env", "load_litellm",
    "otree_rest_key_setting", "otree_server_url_setting", "publish_otree_server", "resolve",
]


class EnvironmentSettings(BaseSettings):
    """Settings read from environment variables; empty variables count as unset."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True, frozen=True)


class BotexSettings(EnvironmentSettings):
    """The bots' own settings (``BOTEX_*``)."""

    model_config = SettingsConfigDict(env_prefix="BOTEX_")

    db: str = DEFAULT_BOTEX_DB
    wait_timeout: float = 3600.0
    llm_max_attempts: int | None = None
    llm_backoff_seconds: float = 1.0
    llm_timeout_seconds: float = Field(default=DEFAULT_LLM_TIMEOUT_SECONDS, gt=0)
    driver: DriverChoice = "auto"
    # Interactive pages: seconds between looks, the most LLM calls and seconds a bot spends on one.
    live_look_seconds: float = Field(default=5.0, gt=0)
    live_max_calls: int = Field(default=30, ge=0)
    live_max_seconds: float = Field(default=600.0, gt=0)
    # Spend caps of the bots submitted together (a session, a study): dollars at list price, tokens.
    max_cost: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    # Completion parameters (JSON) this process adds to every LLM call of its bots, never queued or
    # stored: where credentials in headers or extra_body come from on a fleet.
    llm_parameters: dict[str, Any] = Field(default_factory=dict, repr=False)
    chromium: str = "/usr/bin/chromium"
    chromedriver: str = "/usr/bin/chromedriver"


class OtreeSettings(EnvironmentSettings):
    """Where the oTree server is and how to start one (``OTREE_*``)."""

    model_config = SettingsConfigDict(env_prefix="OTREE_")

    server_url: str = DEFAULT_OTREE_SERVER_URL
    rest_key: str | None = Field(default=None, repr=False)
    admin_password: str | None = Field(default=None, repr=False)
    project_path: str | None = None
    port: int = 8000
    log_file: str = "otree.log"
    executable: str = "otree"


class LlamaCppSettings(EnvironmentSettings):
    """Values for a llama.cpp server given by ``LLAMACPP_*`` variables, as text; unset ones are None."""

    model_config = SettingsConfigDict(env_prefix="LLAMACPP_")

    server_path: str | None = None
    local_llm_path: str | None = None
    server_url: str | None = None
    context_length: str | None = None
    number_of_layers_to_offload_to_gpu: str | None = None
    temperature: str | None = None
    maximum_tokens_to_predict: str | None = None
    top_p: str | None = None
    top_k: str | None = None
    num_slots: str | None = None
    log_file: str | None = None
    startup_timeout: str | None = None


class CommandSettings(EnvironmentSettings):
    """What the commands take from the environment when no option gives it, as given (unset is None)."""

    botex_db: str | None = None
    otree_server_url: str | None = None
    otree_rest_key: str | None = Field(default=None, repr=False)
    llamacpp_server_path: str | None = None
    llamacpp_local_llm_path: str | None = None
    llm_model: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_base: str | None = None
    otree_session_config: str | None = None
    otree_nparticipants: str | None = None
    otree_nhumans: str | None = None
    flower_basic_auth: str | None = Field(default=None, repr=False)
    flower_address: str = "127.0.0.1"
    flower_port: int = Field(default=5555, ge=1, le=65535)
    llamacpp_pid_file: str = "llamacpp.pid"


def resolve(settings_class: type[SettingsT], **given: Any) -> SettingsT:
    """``settings_class`` from the environment, with the values ``given`` (those not None) in their place.

    Raises:
        ConfigurationError: A value is malformed (a port that is not a number, ...).
    """
    try:
        return settings_class(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        prefix = settings_class.model_config.get("env_prefix", "")
        problems = "; ".join(
            f"{prefix}{'.'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(f"bad setting: {problems}") from None


def botex_db_setting(botex_db: str | None) -> str:
    """The botex database: the argument, else ``BOTEX_DB``, else ``botex.sqlite3``."""
    return resolve(BotexSettings, db=botex_db).db


def otree_server_url_setting(server_url: str | None) -> str:
    """The oTree server URL without a trailing slash: argument, ``OTREE_SERVER_URL``, default."""
    return resolve(OtreeSettings, server_url=server_url).server_url.rstrip("/")


def otree_rest_key_setting(rest_key: str | None) -> str | None:
    """The oTree REST key: the argument, else ``OTREE_REST_KEY``, else None."""
    return resolve(OtreeSettings, rest_key=rest_key).rest_key


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


def publish_otree_server(server_url: str, auth_level: str | None, rest_key: str | None,
                         admin_password: str | None) -> None:
    """Tell later calls of this process about a started oTree server, as the original botex does.

    ``start_otree_server`` promises this: ``OTREE_SERVER_URL`` becomes the new
    server's URL, and with an ``auth_level`` its level, REST key and admin
    password are set too. The only place that writes the environment besides
    :func:`load_botex_env`.
    """
    os.environ["OTREE_SERVER_URL"] = server_url
    if auth_level is None:
        return
    os.environ["OTREE_AUTH_LEVEL"] = auth_level
    for variable, value in (("OTREE_REST_KEY", rest_key), ("OTREE_ADMIN_PASSWORD", admin_password)):
        if value is not None:
            os.environ[variable] = value


def environment_for_child() -> dict[str, str]:
    """A copy of this process's environment, to hand on to a child process."""
    return dict(os.environ)


@cache
def load_litellm() -> ModuleType:
    """Import and set up LiteLLM once per process, with its price table read from the
    package, never fetched from the network.

    LiteLLM reads that switch only from the environment, when it is first imported;
    a value the user set is kept. OpenAI-compatible providers get one HTTP client
    for the whole process with no cap on connections (httpx caps a client at 100,
    which would hold a worker's hundreds of bots back to 100 LLM calls at a time);
    a client the user gave LiteLLM is kept.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import httpx
    import litellm

    litellm.suppress_debug_info = True
    # LiteLLM reports every call at INFO; the bots' own log and the store say what matters.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if litellm.client_session is None:
        litellm.client_session = httpx.Client(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None), follow_redirects=True,
        )
    return litellm
