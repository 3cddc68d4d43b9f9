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
from sqlalchemy import or_, update
from sqlalchemy.engine import make_url

from botex_core.bot.prompts import build_prompts
from botex_core.bot.runner import BotSettings, participant_code
from botex_core.config import botex_db_setting
from botex_core.errors import ConfigurationError
from botex_core.llm.client import is_secret_name
from botex_core.otree.sessions import get_bot_urls
from botex_core.store import BotStatus, Participant, session_scope
from botex_worker.lease import has_ended
from botex_worker import keyring
from botex_worker.app import app
from botex_worker.queues import queue_for
from botex_worker.settings import FleetSettings
from botex_worker.tasks import run_bot_task, task_arguments

logger = logging.getLogger(__name__)


def shareable_database(botex_db: str | None) -> str | None:
    """The database as workers can be told: an absolute SQLite path, or a URL
    without a password; None when it holds a password (workers use ``BOTEX_DB``)."""
    target = botex_db_setting(botex_db)
    if "://" not in target:
        return os.path.abspath(target)
    return None if make_url(target).password else target


def session_bots(
    session_id: str,
    botex_db: str | None = None,
    bot_urls: list[str] | None = None,
    already_started: bool = False,
    **settings: Any,
) -> list[BotSettings]:
    """The settings of each bot of a session that has to run."""
    build_prompts(settings.get("user_prompts"))
    completion = settings.get("completion_kwargs") or {}
    secret = [key for key in completion if is_secret_name(key)]
    if secret:
        raise ConfigurationError(f"secrets cannot travel with the bots ({', '.join(secret)}): set them in the workers' environment")
    urls = bot_urls if bot_urls is not None else get_bot_urls(session_id, botex_db, already_started)
    database = shareable_database(botex_db)
    return [
        BotSettings(url=url, session_id=session_id, participant_id=participant_code(url) or url, botex_db=database, **settings)
        for url in urls
    ]


def enqueue(bots: list[BotSettings], queue: str | None = None, api_key: str | None = None) -> list[AsyncResult]:
    """Send one task per bot to its queue (by default the queue of its model's provider)."""
    if api_key and not FleetSettings().embedded:
        raise ConfigurationError("an API key cannot be sent to fleet workers: set it in the workers' environment")
    reference = keyring.remember(api_key) if api_key else None
    _mark_queued(bots)
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


def run_in_process(bots: list[BotSettings], queue: str | None = None, api_key: str | None = None) -> None:
    """Run the bots through an in-process worker on the in-memory broker until they all ended."""
    if not FleetSettings().embedded:
        raise ConfigurationError("BOTEX_BROKER_URL is set: bots run on the fleet, not in this process")
    queues = sorted({queue_for(bot.model, queue) for bot in bots})
    with embedded_worker(queues, concurrency=max(1, len(bots))):
        enqueue(bots, queue, api_key)
        wait_until_ended(bots)


def wait_until_ended(bots: list[BotSettings], poll_seconds: float = 0.5) -> None:
    """Block until every bot's row in the store says finished, failed or abandoned."""
    pending = {(bot.botex_db, bot.session_id, bot.participant_id) for bot in bots}
    while pending:
        pending = {key for key in pending if not has_ended(*key)}
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


def _mark_queued(bots: list[BotSettings]) -> None:
    """Mark the bots queued (one statement per database and session), unless one is running."""
    groups: dict[tuple[str | None, str], list[str]] = defaultdict(list)
    for bot in bots:
        groups[(bot.botex_db, bot.session_id)].append(bot.participant_id)
    for (botex_db, session_id), participant_ids in groups.items():
        with session_scope(botex_db) as session:
            for start in range(0, len(participant_ids), 1000):  # SQLite limits a statement's parameters
                session.execute(
                    update(Participant)
                    .where(
                        Participant.session_id == session_id,
                        Participant.participant_id.in_(participant_ids[start:start + 1000]),
                        or_(Participant.status.is_(None), Participant.status != BotStatus.RUNNING.value),
                    )
                    .values(status=BotStatus.QUEUED.value, status_reason=None)
                )
