"""The bot task: one Celery task per bot.

:class:`BotTask` owns everything around the bot: the participant's lease and
its renewal, the rate limiter of the queue, bounded retries when the
infrastructure failed, and giving the worker slot back while the bot waits
long on a wait page. The task body only plays the bot.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from typing import Any

from celery import Task

from botex_core.bot.driver import driver_for
from botex_core.bot.job import BotOutcome, BotSettings, Waiting
from botex_core.bot.runner import run_bot
from botex_core.llm.client import RetryPolicy
from botex_core.settings import BotexSettings, resolve
from botex_core.store import BotStatus, ledger
from botex_worker import keyring
from botex_worker.app import app
from botex_worker.lease import LeaseKeeper
from botex_worker.ratelimit import limiter_for
from botex_worker.settings import FleetSettings, fleet_settings

logger = logging.getLogger(__name__)

TASK_NAME = "botex.run_bot"
# A bot that gave its slot back comes back after this many seconds: time for
# the bots it waits for to take the slot, short enough to follow them quickly.
COME_BACK_SECONDS = 2


class BotTask(Task):
    """Runs a bot under a lease, paced by its queue's limiter, retried on infrastructure faults."""

    acks_late = True
    reject_on_worker_lost = True
    # Waiting for another worker's bot may take many retries; infrastructure
    # faults are counted separately, in the task's argument.
    max_retries = None

    def play(self, bot: dict[str, Any]) -> dict[str, Any]:
        """Run the bot described by the task's argument (see :func:`task_arguments`)."""
        fleet, local = fleet_settings(), resolve(BotexSettings)
        settings = BotSettings(**bot["settings"], api_key=keyring.recall(bot.get("api_key_ref")))
        settings.botex_db = settings.botex_db or local.db
        # A redelivered message keeps its task id, so each run gets an owner of its own.
        owner = f"{self.request.hostname}/{self.request.id}/{uuid.uuid4().hex[:8]}"
        key = (settings.botex_db, settings.session_id, settings.participant_id)
        if not ledger.claim_lease(*key, owner, fleet.lease_seconds):
            if ledger.has_ended(*key):
                logger.info("bot %s has ended: nothing to do", settings.participant_id)
                return {"status": "skipped"}
            # Another worker holds the lease: leave the bot alone, and look again
            # once that lease could have expired (its worker may have died).
            raise self.retry(countdown=fleet.lease_seconds)
        # Embedded mode gives every bot a slot of its own: nothing to give back.
        give_back_after = None if fleet.embedded else fleet.give_back_slot_seconds
        waiting = Waiting(**bot["waiting"]) if bot.get("waiting") else None
        with LeaseKeeper(*key, owner, fleet.lease_seconds) as lease:
            outcome = run_bot(settings, driver_for(local), RetryPolicy.of(local), limiter_for(bot["queue"], fleet),
                              lease.lost.is_set, give_back_after, waiting)
        return self._after(outcome, bot, key, fleet)

    def _after(
        self, outcome: BotOutcome, bot: dict[str, Any], key: tuple[str, str, str], fleet: FleetSettings
    ) -> dict[str, Any]:
        """Come back for a bot that gave its slot back; retry one the infrastructure failed."""
        if outcome.waiting is not None:
            raise self.retry(args=[{**bot, "waiting": asdict(outcome.waiting)}], countdown=COME_BACK_SECONDS)
        failures = bot.get("infrastructure_failures", 0)
        if outcome.retryable and failures < fleet.task_retries:
            ledger.end(*key, BotStatus.QUEUED, f"retry {failures + 1} of {fleet.task_retries} after: {outcome.reason}")
            raise self.retry(args=[{**bot, "infrastructure_failures": failures + 1, "waiting": None}],
                             countdown=fleet.task_retry_seconds * 2 ** failures)
        return _result(outcome)

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: Any) -> None:
        """A task that crashed outside the bot still leaves its reason in the store."""
        settings = args[0]["settings"] if args else {}
        try:
            botex_db = settings.get("botex_db") or resolve(BotexSettings).db
            ledger.end(botex_db, settings.get("session_id"), settings.get("participant_id"),
                       BotStatus.FAILED, f"task failed: {type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - the store itself may be what failed
            logger.exception("could not record the failure of task %s", task_id)


@app.task(bind=True, base=BotTask, name=TASK_NAME)
def run_bot_task(self: BotTask, bot: dict[str, Any]) -> dict[str, Any]:
    """Play one bot to the end (see :class:`BotTask`)."""
    return self.play(bot)


def task_arguments(settings: BotSettings, queue: str, api_key_ref: str | None = None) -> dict[str, Any]:
    """The task's single argument: the bot's non-secret settings and its queue."""
    fields = asdict(settings)
    fields.pop("api_key")
    return {"settings": fields, "queue": queue, "api_key_ref": api_key_ref}


def _result(outcome: BotOutcome) -> dict[str, Any]:
    return {"status": outcome.status.value, "reason": outcome.reason}
