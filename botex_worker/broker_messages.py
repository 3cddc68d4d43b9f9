"""Which bots have a task message on the fleet's Redis broker.

Reads kombu's Redis layout: each queue is a list of messages, and a message
a worker has taken but not acknowledged (a bot that runs, or one that waits
for its countdown to come back) sits in the ``unacked`` hash, with its
delivery time in the ``unacked_index`` sorted set. Each bot's message names
it in its ``shadow`` header: ``bot <session>/<participant>``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
_SHADOW_PREFIX = "bot "


def member(session_id: str, participant_id: str) -> str:
    """How a bot is named among the messages: ``<session>/<participant>``."""
    return f"{session_id}/{participant_id}"


def message_name(session_id: str, participant_id: str) -> str:
    """The name a bot's task messages carry (their ``shadow``), shown in logs and Flower."""
    return _SHADOW_PREFIX + member(session_id, participant_id)


def bots_with_messages(client: redis.Redis, queues: list[str], held_for_at_most: float) -> set[str]:
    """The bots with a message waiting in one of ``queues``, or taken by a worker at most
    ``held_for_at_most`` seconds ago (a message held longer belongs to a worker that may have died)."""
    found = {_bot_of(json.loads(raw)) for queue in queues for raw in client.lrange(queue, 0, -1)}
    recent = client.zrangebyscore(UNACKED_INDEX, time.time() - held_for_at_most, "+inf")
    if recent:
        found |= {_bot_of(json.loads(raw)[0]) for raw in client.hmget(UNACKED, recent) if raw}
    found.discard(None)
    return found  # type: ignore[return-value]


def _bot_of(message: dict[str, Any]) -> str | None:
    shadow = (message.get("headers") or {}).get("shadow") or ""
    return shadow[len(_SHADOW_PREFIX):] if shadow.startswith(_SHADOW_PREFIX) else None
