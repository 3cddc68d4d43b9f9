"""The bot task: one Celery task per bot.

:class:`BotTask` owns everything around the bot: the participant's lease and
its renewal, the rate limiter of the queue, bounded retries when the
infrastructure failed, and giving the worker slot back while the bot waits
long on a wait page. The task body only plays the bot.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import replace
from functools import cache
from typing import Any

from celery import Task
from celery.result import AsyncResult
from celery.signals import worker_init
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from botex_core.bot.drivers import driver_for
from botex_core.bot.job import BotOutcome
from botex_core.bot.runner import run_bot
from botex_core.llm import litellm_adapter
from botex_core.llm.client import RetryPolicy
from botex_core.errors import StoreUnreachableError
from botex_core.llm.credentials import merged
from botex_core.otree.position import PositionReader
from botex_core.settings import BotexSettings, OtreeSettings, resolve
from botex_core.store import BotStatus, ledger
from botex_worker import keyring
from botex_worker.app import app
from botex_worker.kombu_adapter import message_name
from botex_worker.lease import LeaseKeeper
from botex_worker.message import BotMessage, UnreadableMessage
from botex_worker.outages import OutageTooLong, next_look, next_run, outage_left, service_down
from botex_worker.ratelimit import limiter_for
from botex_worker.settings import FleetSettings, fleet_settings

logger = logging.getLogger(__name__)

TASK_NAME = "botex.run_bot"
# A bot that gave its slot back comes back after this many seconds: time for
# the bots it waits for to take the slot, short enough to follow them quickly.
COME_BACK_SECONDS = 2
# The store did not answer, or every connection of the pool stayed busy.
STORE_DOWN = (OperationalError, PoolTimeoutError, StoreUnreachableError)


class BotTask(Task):
    """Runs a bot under a lease, paced by its queue's limiter, retried on infrastructure faults."""

    acks_late = True
    reject_on_worker_lost = True
    # Waiting for another worker's bot may take many retries; infrastructure
    # faults are counted separately, in the task's argument.
    max_retries = None

    def shadow_name(self, args: tuple, kwargs: dict, options: dict) -> str:
        """Name every message of a bot after it, retries included (Flower and the reconciler read it)."""
        settings = args[0].get("settings") or {}
        return message_name(settings.get("session_id", "?"), settings.get("participant_id", "?"))

    def play(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Run the bot of the task's argument (a :class:`~botex_worker.message.BotMessage`)."""
        fleet, local, otree = fleet_settings(), resolve(BotexSettings), resolve(OtreeSettings)
        try:
            bot = BotMessage.read(raw)
        except UnreadableMessage as exc:
            return queue_again_or_end(raw, local.db, str(exc))
        settings = replace(bot.settings, api_key=keyring.recall(bot.api_key_ref),
                           private_parameters=private_parameters(bot, local))
        settings.botex_db = settings.botex_db or keyring.recall(bot.botex_db_ref) or local.db
        if bot.outage_since:
            down = service_down(settings.botex_db, settings.url)
            if down:
                raise self._look_again(bot, fleet, f"{down} does not answer yet")
        # A redelivered message keeps its task id, so each run gets an owner of its own.
        owner = f"{self.request.hostname}/{self.request.id}/{uuid.uuid4().hex[:8]}"
        key = (settings.botex_db, settings.session_id, settings.participant_id)
        try:
            claimed = ledger.claim_lease(*key, owner, fleet.lease_seconds, bot.previous_owner)
        except STORE_DOWN as exc:
            raise self._wait_out(bot, fleet, f"the store is unreachable: {exc}") from None
        if not claimed:
            if ledger.is_final(*key):
                logger.info("bot %s has ended: nothing to do", settings.participant_id)
                return {"status": "skipped"}
            # Another run holds the lease (or a run that failed could not give it back):
            # leave the bot alone, and look again once that lease could have expired.
            raise self.retry(countdown=fleet.lease_seconds)
        # Embedded mode gives every bot a slot of its own: nothing to give back.
        give_back_after = None if fleet.embedded else fleet.give_back_slot_seconds
        try:
            with LeaseKeeper(*key, owner, fleet.lease_seconds) as lease:
                position = position_reader(otree.rest_key).check_for(settings.url, settings.session_id,
                                                                     settings.participant_id)
                outcome = run_bot(settings, driver_for(settings.driver, local), position,
                                  RetryPolicy.of(local, fleet.outage_seconds), limiter_for(bot.queue, fleet),
                                  lease.lost.is_set, give_back_after, bot.waiting, owner)
        except STORE_DOWN as exc:
            # The bot's own records could not be written (nor, maybe, its lease given back):
            # it goes on from what was stored, and its next run takes the lease over.
            raise self._wait_out(bot, fleet, f"the store is unreachable: {exc}", owner) from None
        return self._after(outcome, bot, key, fleet)

    def _after(self, outcome: BotOutcome, bot: BotMessage, key: tuple[str, str, str], fleet: FleetSettings) -> dict[str, Any]:
        """Come back for a bot that gave its slot back; wait out an outage that failed it."""
        if outcome.waiting is not None:
            again = bot.model_copy(update={"waiting": outcome.waiting, "outage_since": None,
                                           "infrastructure_failures": 0, "previous_owner": None})
            raise self.retry(args=[again.task_argument()], countdown=COME_BACK_SECONDS)
        if outcome.retryable and outage_left(bot, fleet.outage_seconds) > 0:
            try:
                ledger.end(*key, BotStatus.QUEUED, f"waiting out an outage: {outcome.reason}")
            except STORE_DOWN:
                pass  # the row says failed until the next run starts; the bot comes back all the same
            raise self._wait_out(bot, fleet, outcome.reason or "")
        return _result(outcome)

    def _wait_out(self, bot: BotMessage, fleet: FleetSettings, reason: str, owner: str | None = None) -> Exception:
        """The next run of a bot that failed on an outage (see :func:`~botex_worker.outages.next_run`),
        or the bot's failure when the outage has lasted too long."""
        try:
            again, pause = next_run(bot, reason, fleet.outage_seconds, fleet.task_retry_seconds, owner)
        except OutageTooLong as exc:
            return exc
        logger.warning("bot %s: %s; trying again in %.0f s", bot.name, reason, pause)
        return self.retry(args=[again.task_argument()], countdown=pause)

    def _look_again(self, bot: BotMessage, fleet: FleetSettings, reason: str) -> Exception:
        """A look at the services again soon, or the bot's failure when the outage has lasted too long."""
        try:
            pause = next_look(bot, reason, fleet.outage_seconds)
        except OutageTooLong as exc:
            return exc
        logger.info("bot %s: %s; looking again in %.0f s", bot.name, reason, pause)
        return self.retry(args=[bot.task_argument()], countdown=pause)

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        """A task that crashed outside the bot still leaves its reason in the store."""
        settings = (args[0].get("settings") if args and isinstance(args[0], dict) else None) or {}
        reason = f"task failed: {type(exc).__name__}: {exc}"
        try:
            botex_db = settings.get("botex_db") or resolve(BotexSettings).db
            if not ledger.fail_crashed_run(botex_db, settings.get("session_id"), settings.get("participant_id"), reason):
                logger.warning("task %s failed after its bot had ended or was taken over; the bot keeps its "
                               "status (%s)", task_id, reason)
        except Exception:  # noqa: BLE001 - the store itself may be what failed
            logger.exception("could not record the failure of task %s", task_id)


@worker_init.connect
def load_llm_client(**_: Any) -> None:
    """Import LiteLLM as the worker starts (seconds of CPU), rather than in the first bots' first LLM call."""
    litellm_adapter.litellm()


@app.task(bind=True, base=BotTask, name=TASK_NAME)
def run_bot_task(self: BotTask, bot: dict[str, Any]) -> dict[str, Any]:
    """Play one bot to the end (see :class:`BotTask`)."""
    return self.play(bot)


def queue_again_or_end(raw: Any, default_db: str, problem: str) -> dict[str, Any]:
    """A message this worker cannot read is not dropped: the bot is queued again from the copy of its
    message in the store when that one can be read, else it ends ``failed`` with the reason."""
    settings = (raw.get("settings") if isinstance(raw, dict) else None) or {}
    key = (settings.get("botex_db") or default_db, settings.get("session_id"), settings.get("participant_id"))
    if None in key:
        logger.error("dropped a task message that names no bot: %s", problem)
        return {"status": "dropped", "reason": problem}
    try:
        stored = BotMessage.read(ledger.queued_message(*key) or "null")
    except UnreadableMessage:
        reason = (f"its task message could not be read ({problem}), nor the copy in the store: "
                  "queue it again with 'botex-cli retry' from a matching botex-fleet")
        ledger.end(*key, BotStatus.FAILED, reason)
        logger.error("bot %s: %s", key[2], reason)
        return {"status": BotStatus.FAILED.value, "reason": reason}
    send([stored.task_argument()])
    logger.warning("bot %s: its task message could not be read (%s); queued again from the store", key[2], problem)
    return {"status": "requeued", "reason": problem}


def private_parameters(bot: BotMessage, local: BotexSettings) -> dict[str, Any]:
    """The bot's parameters that may hold credentials: this worker's ``BOTEX_LLM_PARAMETERS``, with
    those the bot was given in this process (embedded mode) laid over them."""
    given = keyring.recall(bot.private_parameters_ref)
    return merged(local.llm_parameters, json.loads(given) if given else {})


@cache
def position_reader(rest_key: str | None) -> PositionReader:
    """The reader of where oTree has participants that the bots of this process share (one per REST key)."""
    return PositionReader(rest_key)


def send(arguments: list[dict[str, Any]]) -> list[AsyncResult]:
    """Send one bot task per task argument (a message's :meth:`~BotMessage.task_argument`) to its queue,
    through one broker connection."""
    results = []
    with app.producer_or_acquire() as producer:
        for argument in arguments:
            results.append(run_bot_task.apply_async(args=[argument], queue=argument["queue"], producer=producer))
    logger.info("queued %d bot(s)", len(arguments))
    return results


def _result(outcome: BotOutcome) -> dict[str, Any]:
    return {"status": outcome.status.value, "reason": outcome.reason}
