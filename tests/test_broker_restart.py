"""A worker's broker connection that breaks while bots run is closed without ending the worker."""

from __future__ import annotations

from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors

from botex_worker import kombu_workaround
from tests.support.services import RedisServer


def test_closing_a_channel_of_a_closed_connection_with_unacknowledged_messages_is_a_connection_error(
    redis_server: RedisServer,
) -> None:
    kombu_workaround.apply()  # as botex_worker.app does
    connection = Connection(redis_server.url)
    channel = connection.channel()
    queue = Queue("botex.test-close", Exchange("botex.test-close"), "botex.test-close")(channel)
    queue.declare()
    connection.Producer(channel).publish({"bot": 1}, exchange="botex.test-close", routing_key="botex.test-close")
    assert queue.get(no_ack=False) is not None  # delivered, not acknowledged: a bot that runs
    # What kombu leaves behind when Celery closes a broken connection: no client pool, no link to the connection.
    channel._pool = None
    channel.connection.client = None
    ignore_errors(connection, channel.close)  # Celery's own call; without the workaround: AttributeError
    assert channel.closed
