"""Putting bots on a queue, and running them in this process when there is no fleet."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from celery.result import AsyncResult
from celery.worker import WorkController
from sqlalchemy.engine import make_url

from botex_core.bot.job import BotSettings
from botex_core.bot.prompts import build_prompts
from botex_core.costs import estimated_cost
from botex_core.errors import BrokerUnreachableError, ConfigurationError
from botex_core.llm.credentials import credential_paths, credentials_only, withheld
from botex_core.otree.links import participant_code
from botex_core.settings import DEFAULT_MODEL
from botex_core.store import budgets, ledger
from botex_core.store.ledger import QueuedBot, StoredBot
from botex_worker import keyring
from botex_worker.app import app
from botex_worker.message import BotMessage, UnreadableMessage
from botex_worker.queues import queue_for
from botex_worker.submission import Submission
from botex_worker.tasks import send

logger = logging.getLogger(__name__)


def shareable_database(botex_db: str) -> str | None:
    """The database as workers can be told: an absolute SQLite path, or a URL
    without a password; None when it holds a password (workers use ``BOTEX_DB``)."""
    target = botex_db
    if "://" not in target:
        return os.path.abspath(target)
    return None if make_url(target).password else target


def session_bots(
    session_id: str,
    botex_db: str,
    submission: Submission,
    bot_urls: list[str] | None = None,
    already_started: bool = False,
    budget: str | None = None,
    **settings: Any,
) -> list[BotSettings]:
    """The settings of each bot of a session that has to run.

    Completion parameters that may hold credentials are kept apart, in ``private_parameters``.
    The wait timeout, the driver and the live limits of the ``submission`` travel with the bots, unless
    given. With a spend cap in the submission the bots share the budget ``budget`` (default
    ``session:<code>``), which gets the cap.

    Raises:
        ConfigurationError: A cost cap for a model LiteLLM has no price for.
    """
    build_prompts(settings.get("user_prompts"))
    completion = settings.get("completion_kwargs") or {}
    settings["completion_kwargs"], settings["private_parameters"] = withheld(completion), credentials_only(completion)
    urls = bot_urls if bot_urls is not None else ledger.bot_urls(session_id, botex_db, already_started)
    database = shareable_database(botex_db)
    for name, value in submission.bot_defaults().items():
        if settings.get(name) is None:
            settings[name] = value
    if submission.capped:
        settings["budget"] = budget or f"session:{session_id}"
        check_priced(settings.get("model") or DEFAULT_MODEL, submission)
        budgets.set_budget(botex_db, settings["budget"], submission.max_cost, submission.max_tokens)
    return [
        BotSettings(url=url, session_id=session_id, participant_id=participant_code(url) or url, botex_db=database, **settings)
        for url in urls
    ]


def check_priced(model: str, submission: Submission) -> None:
    """A cost cap needs the model's price (a local model costs nothing)."""
    if submission.max_cost is not None and estimated_cost(model, 1000, 1000) is None:
        raise ConfigurationError(f"LiteLLM has no price for model '{model}': a cost cap cannot be kept "
                                 "(give a token cap instead)")


def enqueue(
    bots: list[BotSettings], botex_db: str, submission: Submission, api_key: str | None = None
) -> list[AsyncResult]:
    """Mark the bots queued in ``botex_db`` and send one task per bot to its queue
    (the submission's, else the queue of its model's provider)."""
    embedded, queue = submission.embedded, submission.queue
    if api_key and not embedded:
        raise ConfigurationError("an API key cannot be sent to fleet workers: set it in the workers' environment")
    private = sorted({path for bot in bots for path in credential_paths(bot.private_parameters)})
    if private and not embedded:
        raise ConfigurationError(
            f"completion parameters that may hold credentials cannot travel to fleet workers ({', '.join(private)}): "
            "give them to the workers in BOTEX_LLM_PARAMETERS"
        )
    key_reference = keyring.remember(api_key) if api_key else None
    # The in-process worker gets a database with a password the way it gets the key.
    database_reference = keyring.remember(botex_db) if embedded and shareable_database(botex_db) is None else None
    messages = [
        BotMessage.of(bot, queue_for(bot.model, queue), on_fleet=not embedded, api_key_ref=key_reference,
                      botex_db_ref=database_reference,
                      private_parameters_ref=keyring.remember(json.dumps(bot.private_parameters))
                      if bot.private_parameters else None)
        for bot in bots
    ]
    return _queue(messages, botex_db)


def enqueue_again(
    bots: list[StoredBot], botex_db: str, submission: Submission, model: str | None = None, api_base: str | None = None
) -> list[AsyncResult]:
    """Queue stored bots again, each with the settings and queue it was queued with;
    ``model``, ``api_base`` and the submission's queue replace them when given, and the submission's
    spend cap replaces the cap of their budget. A bot never queued gets the submission's settings.

    Raises:
        ConfigurationError: A bot's stored message cannot be read (a newer botex-fleet queued it).
    """
    changes = {name: value for name, value in (("model", model), ("api_base", api_base)) if value is not None}
    on_fleet, queue = not submission.embedded, submission.queue
    messages = []
    for bot in bots:
        if bot.bot_settings:
            try:
                stored = BotMessage.read(bot.bot_settings)
            except UnreadableMessage as exc:
                raise ConfigurationError(f"bot {bot.participant_id} cannot be queued again: {exc}") from None
            settings, own_queue = stored.settings, None if model else stored.queue
        else:
            [settings], own_queue = session_bots(bot.session_id, botex_db, submission, [bot.url]), None
        settings = replace(settings, **changes)
        if submission.capped:
            settings = replace(settings, budget=settings.budget or f"session:{bot.session_id}")
            check_priced(settings.model, submission)
        messages.append(BotMessage.of(settings, queue or own_queue or queue_for(settings.model), on_fleet=on_fleet))
    for name in {message.settings.budget for message in messages} if submission.capped else ():
        budgets.set_budget(botex_db, name, submission.max_cost, submission.max_tokens)
    return _queue(messages, botex_db)


def _queue(messages: list[BotMessage], botex_db: str) -> list[AsyncResult]:
    """Mark the bots queued with their messages (one statement per session, unless a bot is running),
    and send their tasks."""
    by_session: dict[str, dict[str, QueuedBot]] = defaultdict(dict)
    for message in messages:
        settings = message.settings
        by_session[settings.session_id][settings.participant_id] = QueuedBot(
            message.stored(), settings.model, settings.persona)
    for session_id, queued in by_session.items():
        ledger.mark_queued(botex_db, session_id, queued)
    return send([message.task_argument() for message in messages])


def run_in_process(bots: list[BotSettings], botex_db: str, submission: Submission, api_key: str | None = None) -> None:
    """Run the bots through an in-process worker on the in-memory broker until they all ended."""
    if not submission.embedded:
        raise ConfigurationError("BOTEX_BROKER_URL is set: bots run on the fleet, not in this process")
    queues = sorted({queue_for(bot.model, submission.queue) for bot in bots})
    with embedded_worker(queues, concurrency=max(1, len(bots))):
        enqueue(bots, botex_db, submission, api_key)
        wait_until_ended(bots, botex_db)


def wait_until_ended(bots: list[BotSettings], botex_db: str, poll_seconds: float = 0.5) -> None:
    """Block until every bot's row in ``botex_db`` says finished, failed or abandoned."""
    pending = {(bot.session_id, bot.participant_id) for bot in bots}
    while pending:
        pending = ledger.not_ended(botex_db, pending)
        if pending:
            time.sleep(poll_seconds)


@contextmanager
def embedded_worker(queues: list[str], concurrency: int) -> Iterator[WorkController]:
    """A Celery worker with a thread pool, running in this process.

    Celery's own helper for this, ``celery.contrib.testing.worker.start_worker``, is made for test
    suites: it needs its ``celery.ping`` task registered, waits for a ping and sets test logging; the
    ``WorkController`` in a thread below is what it runs underneath, without those.
    """
    worker = WorkController(
        app=app,
        pool="threads",
        concurrency=concurrency,
        queues=queues,
        hostname=f"embedded-{os.getpid()}@{socket.gethostname()}",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="WARNING",
    )
    thread = threading.Thread(target=worker.start, daemon=True, name="botex-embedded-worker")
    thread.start()
    try:
        yield worker
    finally:
        worker.stop(in_sighandler=False)
        thread.join(30)


def check_broker(timeout: float = 5.0) -> None:
    """Make sure the fleet's broker answers, before anything is created for it.

    Raises:
        BrokerUnreachableError: It does not answer within ``timeout`` seconds.
    """
    with app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - kombu raises the transport's own errors
            raise BrokerUnreachableError(
                f"cannot reach the fleet's broker at {connection.as_uri()}: {exc}"
            ) from None


def queues_without_workers(queues: list[str], timeout: float = 2.0) -> list[str]:
    """The ``queues`` that no live worker takes bots from (asked of the workers over the broker)."""
    answers = app.control.inspect(timeout=timeout).active_queues() or {}
    served = {queue["name"] for worker_queues in answers.values() for queue in worker_queues}
    return [queue for queue in queues if queue not in served]
