"""How bots are submitted from here: the settings that travel with them, resolved once at an entry point."""

from __future__ import annotations

from dataclasses import dataclass

from botex_core.settings import BotexSettings, resolve
from botex_worker.settings import fleet_settings


@dataclass(frozen=True)
class Submission:
    """Where the bots go and what they take along, as a command or an API call resolved it.

    ``embedded``: no broker is set, the bots run in this process. ``wait_timeout`` and ``driver``
    travel with each bot; ``queue`` (if any) takes every bot instead of its provider's queue.
    """

    embedded: bool
    wait_timeout: float = 3600.0
    driver: str = "auto"
    queue: str | None = None
    live_look_seconds: float = 5.0
    live_max_calls: int = 30
    live_max_seconds: float = 600.0
    max_cost: float | None = None
    max_tokens: int | None = None

    @classmethod
    def resolved(cls, driver: str | None = None, queue: str | None = None, **given: float | None) -> Submission:
        """The submission of this process: ``driver``, ``queue``, the ``live_*`` limits and the
        ``max_cost``/``max_tokens`` caps if given, else ``BOTEX_DRIVER``, ``BOTEX_QUEUE``,
        ``BOTEX_LIVE_*``, ``BOTEX_MAX_COST``/``BOTEX_MAX_TOKENS``; ``BOTEX_WAIT_TIMEOUT``; embedded
        unless ``BOTEX_BROKER_URL`` is set."""
        local, fleet = resolve(BotexSettings, driver=driver, **given), fleet_settings()
        return cls(fleet.embedded, local.wait_timeout, local.driver, queue or fleet.queue, local.live_look_seconds,
                   local.live_max_calls, local.live_max_seconds, local.max_cost, local.max_tokens)

    @property
    def capped(self) -> bool:
        """Whether the bots are given a spend cap."""
        return self.max_cost is not None or self.max_tokens is not None

    def bot_defaults(self) -> dict[str, float | int | str]:
        """What travels with each bot unless the bot's own settings say otherwise."""
        return {"wait_timeout": self.wait_timeout, "driver": self.driver, "live_look_seconds": self.live_look_seconds,
                "live_max_calls": self.live_max_calls, "live_max_seconds": self.live_max_seconds}
