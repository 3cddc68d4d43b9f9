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

    @classmethod
    def resolved(cls, driver: str | None = None, queue: str | None = None) -> Submission:
        """The submission of this process: ``driver`` and ``queue`` if given, else ``BOTEX_DRIVER`` and
        ``BOTEX_QUEUE``; ``BOTEX_WAIT_TIMEOUT``; embedded unless ``BOTEX_BROKER_URL`` is set."""
        local, fleet = resolve(BotexSettings, driver=driver), fleet_settings()
        return cls(fleet.embedded, local.wait_timeout, local.driver, queue or fleet.queue)
