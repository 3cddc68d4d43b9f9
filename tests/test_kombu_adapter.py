"""Contract tests of what the fleet relies on in kombu's Redis transport (botex_worker/kombu_adapter.py),
against the installed kombu and a real Redis."""

from __future__ import annotations

import time
import tomllib
import uuid

import pytest
import redis
from celery import Celery
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors
from packaging.requirements import Requirement

from botex_core.errors import ConfigurationError
from botex_worker import kombu_adapter
from botex_worker.kombu_adapter import bots_in_queues, held_messages, message_name
from tests.conftest import REPO
from tests.support.services import RedisServer


def test_closing_a_channel_of_a_closed_connection_with_unacknowledged_messages_is_a_connection_error(
    redis_server: RedisServer,
) -> None:
    kombu_adapter.apply_fix()  # as botex_worker.app does
    connection = Connection(redis_server.url)
    channel = connection.channel()
    queue = Queue("botex.test-close", Exchange("botex.test-close"), "botex.test-close")(channel)
    queue.declare()
    connection.Producer(channel).publish({"bot": 1}, exchange="botex.test-close", routing_key="botex.test-close")
    assert queue.get(no_ack=False) is not None  # delivered, not acknowledged: a bot that runs
    # What kombu leaves behind when Celery closes a broken connection: no client pool, no link to the connection.
    channel._pool = None
    channel.connection.client = None
    ignore_errors(connection, channel.close)  # Celery's own call; without the fix: AttributeError
    assert channel.closed


def test_a_queued_message_and_one_a_worker_holds_are_found_where_the_reconciler_looks(redis_server: RedisServer) -> None:
    """Celery puts a task message on a Redis list named after its queue, with the bot in its ``shadow``
    header; a message taken without acknowledgement moves to the ``unacked`` hash and ``unacked_index``."""
    app = Celery("contract", broker=redis_server.url)
    queue_name = "botex.test-" + uuid.uuid4().hex[:6]
    client = redis.Redis.from_url(redis_server.url)
    sent = app.send_task("botex.run_bot", args=[{}], queue=queue_name, shadow=message_name("s1", "p1"))
    assert bots_in_queues(client, [queue_name]) == {"s1/p1"}
    with app.connection_for_read() as connection:
        queue = Queue(queue_name)(connection.default_channel)
        taken = queue.get(no_ack=False)
        assert taken is not None
        time.sleep(0.2)
        assert bots_in_queues(client, [queue_name]) == set()
        [held] = [message for message in held_messages(client) if message.bot == "s1/p1"]
        assert held.task_id == sent.id and 0.1 <= held.held_seconds < 30
        taken.ack()
    assert not [message for message in held_messages(client) if message.bot == "s1/p1"]


def test_a_kombu_the_contract_tests_did_not_check_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    kombu_adapter.check_version()
    monkeypatch.setattr(kombu_adapter, "version", lambda package: "5.9.0")
    with pytest.raises(ConfigurationError, match=r"kombu 5.9.0 is not a version botex-fleet was tested with"):
        kombu_adapter.check_version()


def test_the_project_asks_for_the_kombu_the_adapter_was_tested_with() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    [kombu] = [Requirement(line) for line in project["dependencies"] if Requirement(line).name == "kombu"]
    assert kombu.specifier == kombu_adapter.TESTED_KOMBU
