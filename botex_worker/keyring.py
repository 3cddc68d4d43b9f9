"""API keys for bots that run in this very process (embedded mode).

Task arguments carry only a random reference; the key stays in memory here.
Fleet workers in other processes find no key behind a reference and use their
own environment, as they should.
"""

from __future__ import annotations

import threading
import uuid

_keys: dict[str, str] = {}
_lock = threading.Lock()


def remember(api_key: str) -> str:
    """Keep ``api_key`` in this process; return the reference to pass instead."""
    reference = uuid.uuid4().hex
    with _lock:
        _keys[reference] = api_key
    return reference


def recall(reference: str | None) -> str | None:
    """The key behind ``reference``, if this process holds it."""
    with _lock:
        return _keys.get(reference) if reference else None
