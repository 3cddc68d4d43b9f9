"""Fleet settings (``BOTEX_*``), resolved from the environment where a fleet process starts its work."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from botex_core.settings import EnvironmentSettings, resolve


class FleetSettings(EnvironmentSettings):
    """How the fleet's processes talk to each other and how long things may take."""

    model_config = SettingsConfigDict(env_prefix="BOTEX_")

    broker_url: str | None = None
    result_backend: str | None = None
    visibility_timeout: float = 6 * 3600
    lease_seconds: float = 60
    outage_seconds: float = 15 * 60
    task_retry_seconds: float = 10
    give_back_slot_seconds: float = 60
    # One queue for every bot queued without one, instead of its provider's (API, commands and workers alike).
    queue: str | None = None
    rate_limits: str | None = None
    rate_limit_redis_url: str | None = None
    # ``botex-cli worker``: its queues (comma-separated; default every provider's and ``queue``),
    # bots at once, and its name.
    worker_queues: str | None = None
    worker_concurrency: int = Field(default=16, ge=1)
    worker_name: str | None = None

    @property
    def embedded(self) -> bool:
        """No broker configured: bots run in this process."""
        return self.broker_url is None


def fleet_settings() -> FleetSettings:
    """The fleet settings of this process's environment."""
    return resolve(FleetSettings)
