"""The stored LLM exchanges of earlier bots as a LiteLLM cache, so that a replay asks no provider.

Each exchange that got a response goes into a LiteLLM in-memory cache under the
request LiteLLM keys it by (model, messages, schema, parameters), namespaced by
the participant code of the bot that made it: a replayed bot is answered only
from its own original's exchanges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from botex_core.settings import load_litellm
from botex_core.store import session_scope
from botex_core.store.models import LLMExchange

# What the cache keeps of a request besides LiteLLM's key: its namespace, and a replay's own switch.
_CACHE_CONTROL = ("cache", "caching")


def replay_cache(botex_db: str, participant_ids: Iterable[str]) -> tuple[Any, int]:
    """A LiteLLM cache of every answered exchange of the bots ``participant_ids``; and how many it holds."""
    litellm = load_litellm()
    from litellm.caching.in_memory_cache import InMemoryCache

    ids = list(participant_ids)
    query = (
        select(LLMExchange.participant_id, LLMExchange.request, LLMExchange.response)
        .where(LLMExchange.participant_id.in_(ids), LLMExchange.response.is_not(None), LLMExchange.error.is_(None))
        .order_by(LLMExchange.id)
    )
    with session_scope(botex_db) as session:
        rows = session.execute(query).all()
    cache = litellm.Cache(type="local")
    # LiteLLM's default keeps 200 entries for 10 minutes: a replay needs all of them for as long as it runs.
    cache.cache = InMemoryCache(max_size_in_memory=len(rows) + 1, default_ttl=7 * 24 * 3600)
    for participant_id, request_text, response in rows:
        request = {key: value for key, value in json.loads(request_text).items() if key not in _CACHE_CONTROL}
        # Only the reply is read back: a hit costs no tokens, whatever the original used.
        answer = litellm.ModelResponse(
            model=request.get("model"),
            choices=[{"index": 0, "message": {"role": "assistant", "content": response}, "finish_reason": "stop"}],
        )
        cache.add_cache(result=answer, **request, cache={"namespace": participant_id})
    return cache, len(rows)


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
