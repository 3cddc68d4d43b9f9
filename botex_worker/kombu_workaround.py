"""A workaround for kombu 5.7's Redis transport, which can stop a worker when Redis restarts.

When the worker's broker connection breaks while bots run (their messages
delivered and not yet acknowledged), Celery closes the old connection. kombu
clears the transport's link to that connection before the channel is closed;
closing the channel then tries to put its unacknowledged messages back through
a new Redis client built from that link, fails with ``AttributeError: 'NoneType'
object has no attribute 'hostname'``, and Celery ends the worker ("Unrecoverable
error", exit code 0). Here that case raises Redis's ``ConnectionError``
instead, which Celery expects while it reconnects and ignores. The messages
stay in Redis's unacknowledged set: the bots that run go on and end, and the
reconciler puts back any bot that stranded.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis

_connection_parameters = kombu_redis.Channel._connparams


def _connection_parameters_of_an_open_connection(self: Any, asynchronous: bool = False) -> Any:
    if self.connection is None or self.connection.client is None:
        raise redis.exceptions.ConnectionError("the broker connection of this channel is closed")
    return _connection_parameters(self, asynchronous)


def apply() -> None:
    """Install the workaround (once)."""
    kombu_redis.Channel._connparams = _connection_parameters_of_an_open_connection
