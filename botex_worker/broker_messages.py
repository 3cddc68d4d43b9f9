"""Which bots have a task message on the fleet's Redis broker.

Reads kombu's Redis layout: each queue is a list of messages, and a message
a worker has taken but not acknowledged (a bot that runs, one that waits for
its countdown to come back, or one prefetched behind a busy slot) sits in the
``unacked`` hash, with its delivery time in the ``unacked_index`` sorted set.
Each bot's message names it in its ``shadow`` header: ``bot <session>/<participant>``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

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
