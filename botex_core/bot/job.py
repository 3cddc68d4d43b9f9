"""What a bot is given to play (its settings), how its run ended (its outcome), and what stops it early."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, with_config

from botex_core.settings import DEFAULT_MODEL
from botex_core.store import BotStatus


@with_config(ConfigDict(extra="forbid"))
@dataclass
class BotSettings:
    """Everything one bot needs; ``api_key`` and ``private_parameters`` are never queued, stored or logged.

    ``botex_db`` None means the database of the process that runs the bot.
    """

    url: str
    session_id: str
    participant_id: str
    botex_db: str | None = None
    model: str = DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    throttle: bool = False
    full_conv_history: bool = False
    user_prompts: dict[str, str] | None = None
    completion_kwargs: dict[str, Any] = field(default_factory=dict)
    # The completion parameters that may hold credentials (``llm.credentials``); ``completion_kwargs``
    # holds them withheld.
    private_parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    wait_timeout: float = 3600.0
    driver: str = "auto"
    # On an interactive page: seconds between looks when nothing changes, the most LLM calls and
    # seconds on one page (``botex_core.bot.live``).
    live_look_seconds: float = 5.0
    live_max_calls: int = 30
    live_max_seconds: float = 600.0
    # The spend cap the bot shares (``session:<code>`` or ``study:<name>`` in the store's budgets).
    budget: str | None = None
    persona: str | None = None
    # A replay of this participant code: requests are answered from its stored exchanges
    # (see ``botex_fleet.replay``); ``strict_replay`` fails the bot on a request they cannot answer.
    replay_of: str | None = None
    strict_replay: bool = False

    def bot_parms(self) -> dict[str, Any]:
        """The settings as stored with the conversation: nothing secret."""
        return {
            "session_id": self.session_id,
            "participant_id": self.participant_id,
            "url": self.url,
            "model": self.model,
            "api_base": self.api_base,
            "throttle": self.throttle,
            "full_conv_history": self.full_conv_history,
            "user_prompts": self.user_prompts,
            "wait_timeout": self.wait_timeout,
            "driver": self.driver,
            "live_look_seconds": self.live_look_seconds,
            "live_max_calls": self.live_max_calls,
            "live_max_seconds": self.live_max_seconds,
            "persona": self.persona,
            "replay_of": self.replay_of,
        }


class BotStop(Exception):
    """A signal that ends the page loop early; not an error."""


class Superseded(BotStop):
    """Another runner took the participant over (this one lost its lease); this one stops quietly."""


@dataclass(frozen=True)
class Waiting:
    """The wait page a bot is on and since when (epoch seconds), kept while it is off its slot."""

    url: str
    since: float


@dataclass(frozen=True)
class BotOutcome:
    """How a bot's run ended.

    ``retryable`` when the cause was the infrastructure; ``waiting`` when the bot
    gave its slot back on a wait page and is to go on later.
    """

    status: BotStatus
    reason: str | None = None
    retryable: bool = False
    waiting: Waiting | None = None
