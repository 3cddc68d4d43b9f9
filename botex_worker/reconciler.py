"""The reconciler: the fleet converges to what the store says must run, with no person to step in.

Every worker runs one in a background thread; a Redis lock lets one of them
work at a time. Each round it asks the ledger for stranded fleet bots and
puts them back on their queue:

- a bot running with a lease that expired or is gone: its worker died, or it
  could not write how it ended (the store was down). Its old message, if any,
  would come back only after the broker's visibility timeout, and then finds
  the bot taken or ended.
- a queued bot with no live message in two rounds in a row: its message was
  lost (Redis restarted without persistence, or a retry could not be sent),
  or the worker that held it died (a bot that gave its slot back, or waits
  out an outage, is held by a worker until its countdown ends). A message
  a worker took more than a round ago counts only while a live worker still
  knows its task.

A bot waiting its turn in a backlog has a message and is left alone, so it is
never copied into the queue again and again; a duplicate that does happen is
harmless, as the lease lets only one run play a bot.
"""

from __future__ import annotations

import logging
import threading
import uuid

import redis
from celery.signals import worker_ready, worker_shutdown

from botex_core.settings import BotexSettings, resolve
from botex_core.store import BotStatus, ledger
from botex_core.store.ledger import StoredBot
from botex_worker.app import app
from botex_worker.kombu_adapter import bots_in_queues, held_messages, member
from botex_worker.message import BotMessage, UnreadableMessage
from botex_worker.tasks import send
from botex_worker.queues import DEFAULT_QUEUES
from botex_worker.settings import fleet_settings

logger = logging.getLogger(__name__)

LOCK_KEY = "botex:reconciler:lock"
SUSPECTS_KEY = "botex:reconciler:suspects"
# How long live workers have to say which of the held messages they know.
INSPECT_SECONDS = 1.0


def reconcile(botex_db: str, client: redis.Redis, interval: float) -> int:
    """Queue again every stranded fleet bot of ``botex_db``; return how many."""
    stranded = {bot: message for bot in ledger.stranded_bots(botex_db)
                if (message := _stored(bot)) is not None and message.on_fleet}
    queues = sorted({*DEFAULT_QUEUES, *(message.queue for message in stranded.values())})
    queued = {member(bot.session_id, bot.participant_id) for bot in stranded if bot.status == BotStatus.QUEUED.value}
    messageless = queued - bots_in_queues(client, queues)
    if messageless:
        messageless -= _held_by_live_workers(client, messageless, interval)
    suspected_before = {item.decode() for item in client.smembers(SUSPECTS_KEY)}
    _remember_suspects(client, messageless, interval)
    recover = [
        bot for bot in stranded
        if bot.status == BotStatus.RUNNING.value or member(bot.session_id, bot.participant_id) in suspected_before & messageless
    ]
    requeued = [bot for bot in recover if ledger.requeue_stranded(botex_db, bot, _reason(bot))]
    if requeued:
        send([stranded[bot].model_copy(update={"waiting": None}).task_argument() for bot in requeued])
        logger.warning("reconciler: queued %d stranded bot(s) again: %s", len(requeued),
                       ", ".join(f"{bot.participant_id} ({_reason(bot)})" for bot in requeued))
    return len(requeued)


def _held_by_live_workers(client: redis.Redis, bots: set[str], interval: float) -> set[str]:
    """Those of ``bots`` whose message a worker took within the last round, or a live worker still holds."""
    held = [message for message in held_messages(client) if message.bot in bots]
    recent = {message.bot for message in held if message.held_seconds <= interval}
    older = {message.task_id: message.bot for message in held if message.held_seconds > interval}
    return recent | {older[task_id] for task_id in _tasks_known_to_live_workers(list(older)) if task_id in older}


def _tasks_known_to_live_workers(task_ids: list[str]) -> set[str]:
    """The task ids among ``task_ids`` that a live worker runs, has reserved or holds for a countdown."""
    if not task_ids:
        return set()
    replies = app.control.inspect(timeout=INSPECT_SECONDS).query_task(*task_ids) or {}
    return {task_id for known in replies.values() for task_id in known}


def _remember_suspects(client: redis.Redis, suspects: set[str], interval: float) -> None:
    pipe = client.pipeline()
    pipe.delete(SUSPECTS_KEY)
    if suspects:
        pipe.sadd(SUSPECTS_KEY, *suspects)
        pipe.pexpire(SUSPECTS_KEY, int(interval * 3000))
    pipe.execute()


def _stored(bot: StoredBot) -> BotMessage | None:
    """The bot's stored message; None when this worker cannot read it (a newer fleet's worker will)."""
    try:
        return BotMessage.read(bot.bot_settings or "null")
    except UnreadableMessage as exc:
        logger.warning("reconciler: leaves bot %s to another worker: %s", bot.participant_id, exc)
        return None


def _reason(bot: StoredBot) -> str:
    if bot.status == BotStatus.RUNNING.value:
        return "recovered: its run stopped (lease expired)"
    return "recovered: its message was lost"


class Reconciler:
    """Runs :func:`reconcile` every ``interval`` seconds in a daemon thread, one worker at a time fleet-wide."""

    def __init__(self, botex_db: str, redis_url: str, interval: float) -> None:
        self._botex_db = botex_db
        self._interval = interval
        self._redis = redis.Redis.from_url(redis_url)
        self._token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="botex-reconciler")

    def start(self) -> None:
        """Start the rounds."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._thread.join(self._interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                # The lock ends before the next round, so rounds of different workers never overlap.
                if self._redis.set(LOCK_KEY, self._token, nx=True, px=int(self._interval * 900)):
                    reconcile(self._botex_db, self._redis, self._interval)
            except Exception as exc:  # noqa: BLE001 - Redis or the store may be down; the next round tries again
                logger.warning("reconciler round failed (%s); trying again in %.0f s", exc, self._interval)


_running: list[Reconciler] = []


@worker_ready.connect
def _start_with_the_worker(**_: object) -> None:
    """A fleet worker (on Redis) reconciles its store every half lease."""
    fleet = fleet_settings()
    if fleet.broker_url is None or not fleet.broker_url.startswith(("redis://", "rediss://")):
        return
    reconciler = Reconciler(resolve(BotexSettings).db, fleet.broker_url, fleet.lease_seconds / 2)
    reconciler.start()
    _running.append(reconciler)


@worker_shutdown.connect
def _stop_with_the_worker(**_: object) -> None:
    while _running:
        _running.pop().stop()
