"""Fleet settings, read from the environment of each process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _number(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


@dataclass(frozen=True)
class FleetSettings:
    """How the fleet's processes talk to each other and how long things may take."""

    broker_url: str | None = field(default_factory=lambda: os.environ.get("BOTEX_BROKER_URL") or None)
    result_backend: str | None = field(default_factory=lambda: os.environ.get("BOTEX_RESULT_BACKEND") or None)
    visibility_timeout: float = field(default_factory=lambda: _number("BOTEX_VISIBILITY_TIMEOUT", 6 * 3600))
    lease_seconds: float = field(default_factory=lambda: _number("BOTEX_LEASE_SECONDS", 60))
    task_retries: int = field(default_factory=lambda: int(_number("BOTEX_TASK_RETRIES", 3)))
    retry_backoff: float = field(default_factory=lambda: _number("BOTEX_TASK_RETRY_SECONDS", 10))
    give_back_after: float = field(default_factory=lambda: _number("BOTEX_GIVE_BACK_SLOT_SECONDS", 60))

    @property
    def embedded(self) -> bool:
        """No broker configured: bots run in this process."""
        return self.broker_url is None
