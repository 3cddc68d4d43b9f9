"""Secrets for bots that run in this very process (embedded mode): API keys, database URLs with a password.

Task arguments carry only a random reference; the secret stays in memory here.
Fleet workers in other processes find nothing behind a reference and use their
own environment, as they should.
"""

from __future__ import annotations

import threading
import uuid

_keys: dict[str, str] = {}
_lock = threading.Lock()


def remember(secret: str) -> str:
    """Keep ``secret`` in this process; return the reference to pass instead."""
    reference = uuid.uuid4().hex
    with _lock:
        _keys[reference] = secret
    return reference


def recall(reference: str | None) -> str | None:
    """The secret behind ``reference``, if this process holds it."""
    with _lock:
        return _keys.get(reference) if reference else None
