"""Everything botex-fleet relies on of kombu's Redis transport, behind one module.

kombu's internals are not its API; the fleet needs two of them:

- its Redis layout, to tell which bots have a task message (the reconciler):
  each queue is a list of messages, and a message a worker has taken but not
  acknowledged (a bot that runs, one that waits for its countdown to come
  back, or one prefetched behind a busy slot) sits in the ``unacked`` hash,
  with its delivery time in the ``unacked_index`` sorted set. Each bot's
  message names it in its ``shadow`` header: ``bot <session>/<participant>``.
- a fix of its ``Channel._connparams``: when a worker's broker connection
  breaks while bots run (their messages delivered and not yet acknowledged),
  Celery closes the old connection; kombu clears the transport's link to it
  before the channel is closed, and closing the channel then tries to put the
  unacknowledged messages back through a new Redis client built from that
  link, fails with ``AttributeError: 'NoneType' object has no attribute
  'hostname'``, and Celery ends the worker ("Unrecoverable error", exit code
  0). Here that case raises Redis's ``ConnectionError`` instead, which Celery
  expects while it reconnects. The messages stay in Redis's unacknowledged
  set: the bots that run go on and end, and the reconciler puts back any bot
  that stranded.

``tests/test_kombu_adapter.py`` checks each of these against the installed
kombu and a real Redis; :func:`check_version` refuses a kombu outside the
versions those tests ran on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from packaging.specifiers import SpecifierSet

from botex_core.versions import refuse_untested

# The kombu releases whose internals the contract tests have checked (pyproject.toml asks for the same).
TESTED_KOMBU = SpecifierSet(">=5.7,<5.8")
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
_SHADOW_PREFIX = "bot "


@dataclass(frozen=True)
class HeldMessage:
    """A bot's message that a worker took and has not acknowledged."""

    bot: str
    task_id: str
    held_seconds: float


def member(session_id: str, participant_id: str) -> str:
    """How a bot is named among the messages: ``<session>/<participant>``."""
    return f"{session_id}/{participant_id}"


def message_name(session_id: str, participant_id: str) -> str:
    """The name a bot's task messages carry (their ``shadow``), shown in logs and Flower."""
    return _SHADOW_PREFIX + member(session_id, participant_id)


def bots_in_queues(client: redis.Redis, queues: list[str]) -> set[str]:
    """The bots with a message waiting in one of ``queues``."""
    found = {_bot_of(json.loads(raw)) for queue in queues for raw in client.lrange(queue, 0, -1)}
    found.discard(None)
    return found  # type: ignore[return-value]


def held_messages(client: redis.Redis) -> list[HeldMessage]:
    """The bots' messages that workers hold, with how long each has been held."""
    now = time.time()
    delivered = client.zrange(UNACKED_INDEX, 0, -1, withscores=True)
    if not delivered:
        return []
    tags = [tag for tag, _ in delivered]
    held = []
    for (_, since), raw in zip(delivered, client.hmget(UNACKED, tags)):
        if raw is None:
            continue
        message = json.loads(raw)[0]
        bot = _bot_of(message)
        if bot is not None:
            held.append(HeldMessage(bot, (message.get("headers") or {}).get("id", ""), now - since))
    return held


def _bot_of(message: dict[str, Any]) -> str | None:
    shadow = (message.get("headers") or {}).get("shadow") or ""
    return shadow[len(_SHADOW_PREFIX):] if shadow.startswith(_SHADOW_PREFIX) else None


def check_version() -> None:
    """Refuse a kombu whose internals the contract tests have not checked.

    Raises:
        ConfigurationError: The installed kombu is outside :data:`TESTED_KOMBU`.
    """
    refuse_untested("kombu", "kombu", version("kombu"), TESTED_KOMBU, " (the fleet reads its Redis transport's internals)")


_connection_parameters = kombu_redis.Channel._connparams


def _connection_parameters_of_an_open_connection(self: Any, asynchronous: bool = False) -> Any:
    if self.connection is None or self.connection.client is None:
        raise redis.exceptions.ConnectionError("the broker connection of this channel is closed")
    return _connection_parameters(self, asynchronous)


def apply_fix() -> None:
    """Check kombu's version and install the fix of ``Channel._connparams`` (once; again is harmless)."""
    check_version()
    kombu_redis.Channel._connparams = _connection_parameters_of_an_open_connection
