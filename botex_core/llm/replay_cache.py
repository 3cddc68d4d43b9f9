"""The stored LLM exchanges of earlier bots as a LiteLLM cache, so that a replay asks no provider.

Each exchange that got a response goes into a LiteLLM in-memory cache under the
request LiteLLM keys it by (model, messages, schema, parameters), namespaced by
the participant code of the bot that made it: a replayed bot is answered only
from its own original's exchanges. A replay serves its cache to its bots for as
long as it runs (:func:`serving`); LiteLLM's global cache is never touched.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from botex_core.llm.litellm_adapter import answer_cache, cache_answer
from botex_core.store import session_scope
from botex_core.store.models import LLMExchange

# What a recorded request holds besides LiteLLM's key: its namespace, and a replay's own switch.
CACHE_CONTROL = ("cache", "caching")
# The caches replays serve now, by namespace (the participant code of the original bot).
_served: dict[str, Any] = {}
_served_lock = threading.Lock()


def replay_cache(botex_db: str, participant_ids: Iterable[str]) -> tuple[Any, int]:
    """A LiteLLM cache of every answered exchange of the bots ``participant_ids``; and how many it holds."""
    ids = list(participant_ids)
    query = (
        select(LLMExchange.participant_id, LLMExchange.request, LLMExchange.response)
        .where(LLMExchange.participant_id.in_(ids), LLMExchange.response.is_not(None), LLMExchange.error.is_(None))
        .order_by(LLMExchange.id)
    )
    with session_scope(botex_db) as session:
        rows = session.execute(query).all()
    cache = answer_cache(len(rows))
    for participant_id, request_text, response in rows:
        request = {key: value for key, value in json.loads(request_text).items() if key not in CACHE_CONTROL}
        # Only the reply is read back: a hit costs no tokens, whatever the original used.
        cache_answer(cache, request, participant_id, response)
    return cache, len(rows)


@contextmanager
def serving(cache: Any, namespaces: Iterable[str]) -> Iterator[None]:
    """Answer the replayed bots of ``namespaces`` from ``cache`` while the block runs."""
    names = list(namespaces)
    with _served_lock:
        _served.update(dict.fromkeys(names, cache))
    try:
        yield
    finally:
        with _served_lock:
            for name in names:
                _served.pop(name, None)


def replay_answers(namespace: str | None) -> Any | None:
    """The cache a replay serves for ``namespace`` now, if any."""
    with _served_lock:
        return _served.get(namespace) if namespace else None


@dataclass(frozen=True)
class ReplayCounts:
    """How a replay's requests were answered."""

    hits: int
    misses: int


def replay_counts(botex_db: str, participant_ids: Iterable[str]) -> ReplayCounts:
    """Requests of the bots ``participant_ids`` answered from the cache (hits), and those that were
    not (misses: sent to the provider, or refused by a strict replay)."""
    query = select(
        func.coalesce(func.sum(case((LLMExchange.cached == 1, 1), else_=0)), 0),
        func.count(),
    ).where(LLMExchange.participant_id.in_(list(participant_ids)))
    with session_scope(botex_db) as session:
        hits, total = session.execute(query).one()
    return ReplayCounts(int(hits), int(total) - int(hits))
