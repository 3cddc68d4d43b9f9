"""Putting bots on a queue, and running them in this process when there is no fleet."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.result import AsyncResult
from celery.worker import WorkController
from sqlalchemy.engine import make_url

from botex_core.bot.job import BotSettings
from botex_core.bot.prompts import build_prompts
from botex_core.errors import ConfigurationError
from botex_core.llm.client import is_secret_name
from botex_core.otree.links import participant_code
from botex_core.settings import BotexSettings, resolve
from botex_core.store import ledger
from botex_worker import keyring
from botex_worker.app import app
from botex_worker.queues import queue_for
from botex_worker.settings import fleet_settings
from botex_worker.tasks import run_bot_task, task_arguments

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
    bot_urls: list[str] | None = None,
    already_started: bool = False,
    **settings: Any,
) -> list[BotSettings]:
    """The settings of each bot of a session that has to run.

    The wait timeout is ``BOTEX_WAIT_TIMEOUT`` where the bots are submitted, and travels with them.
    """
    build_prompts(settings.get("user_prompts"))
    completion = settings.get("completion_kwargs") or {}
    secret = [key for key in completion if is_secret_name(key)]
    if secret:
        raise ConfigurationError(f"secrets cannot travel with the bots ({', '.join(secret)}): set them in the workers' environment")
    urls = bot_urls if bot_urls is not None else ledger.bot_urls(session_id, botex_db, already_started)
    database = shareable_database(botex_db)
    settings.setdefault("wait_timeout", resolve(BotexSettings).wait_timeout)
    return [
        BotSettings(url=url, session_id=session_id, participant_id=participant_code(url) or url, botex_db=database, **settings)
        for url in urls
    ]


def enqueue(
    bots: list[BotSettings], botex_db: str, queue: str | None = None, api_key: str | None = None
) -> list[AsyncResult]:
    """Mark the bots queued in ``botex_db`` and send one task per bot to its queue
    (by default the queue of its model's provider)."""
    if api_key and not fleet_settings().embedded:
        raise ConfigurationError("an API key cannot be sent to fleet workers: set it in the workers' environment")
    reference = keyring.remember(api_key) if api_key else None
    _mark_queued(bots, botex_db)
    results = []
    with app.producer_or_acquire() as producer:  # one broker connection for all of them
        for bot in bots:
            target = queue_for(bot.model, queue)
            results.append(run_bot_task.apply_async(
                args=[task_arguments(bot, target, reference)],
                queue=target,
                shadow=f"bot {bot.session_id}/{bot.participant_id}",
                producer=producer,
            ))
    logger.info("queued %d bot(s)", len(bots))
    return results


def run_in_process(
    bots: list[BotSettings], botex_db: str, queue: str | None = None, api_key: str | None = None
) -> None:
    """Run the bots through an in-process worker on the in-memory broker until they all ended."""
    if not fleet_settings().embedded:
        raise ConfigurationError("BOTEX_BROKER_URL is set: bots run on the fleet, not in this process")
    queues = sorted({queue_for(bot.model, queue) for bot in bots})
    with embedded_worker(queues, concurrency=max(1, len(bots))):
        enqueue(bots, botex_db, queue, api_key)
        wait_until_ended(bots, botex_db)


def wait_until_ended(bots: list[BotSettings], botex_db: str, poll_seconds: float = 0.5) -> None:
    """Block until every bot's row in ``botex_db`` says finished, failed or abandoned."""
    pending = {(bot.session_id, bot.participant_id) for bot in bots}
    while pending:
        pending = {key for key in pending if not ledger.has_ended(botex_db, *key)}
        if pending:
            time.sleep(poll_seconds)


@contextmanager
def embedded_worker(queues: list[str], concurrency: int) -> Iterator[WorkController]:
    """A Celery worker with a thread pool, running in this process."""
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


def _mark_queued(bots: list[BotSettings], botex_db: str) -> None:
    """Mark the bots queued, one statement per session, unless one is running."""
    by_session: dict[str, list[str]] = defaultdict(list)
    for bot in bots:
        by_session[bot.session_id].append(bot.participant_id)
    for session_id, participant_ids in by_session.items():
        ledger.mark_queued(botex_db, session_id, participant_ids)
