"""Outages a bot waits out: when it tries again, which service is still down, and when it gives up.

A bot whose run stopped because the store, its oTree server or the LLM
provider did not answer is tried again after a backoff that grows with the
runs that failed. Each try first asks the store and the oTree server whether
they answer now and runs the bot only once they do; while they do not, it
looks again every ``PROBE_SECONDS``. So a bot is back within seconds of a
service's return, and runs (and writes to the store) only when it can get on.
The whole outage may last ``BOTEX_OUTAGE_SECONDS``; then it is the bot's failure.
"""

from __future__ import annotations

import time

from botex_core.errors import BotexError
from botex_core.otree.client import server_answers
from botex_core.store import store_answers
from botex_worker.message import BotMessage

# While a service is down, a waiting bot asks again this often: it is back within this long of the return.
PROBE_SECONDS = 5
# The longest pause between two runs of a bot that failed on an outage.
MAX_PAUSE_SECONDS = 60


class OutageTooLong(BotexError):
    """An outage lasted longer than the bot may wait it out."""


def service_down(botex_db: str, participant_link: str) -> str | None:
    """The service that does not answer now (the store, else the bot's oTree server), or None."""
    if not store_answers(botex_db):
        return "the store"
    if not server_answers(participant_link):
        return "the oTree server"
    return None


def next_run(
    bot: BotMessage, reason: str, outage_seconds: float, first_pause: float, owner: str | None = None,
    now: float | None = None,
) -> tuple[BotMessage, float]:
    """The message of the bot's next run after a run that failed on an outage, and the pause before it.

    ``owner``: the run that failed, whose lease the next run may take over at once.

    Raises:
        OutageTooLong: The outage has lasted ``outage_seconds``.
    """
    now = time.time() if now is None else now
    _check_tolerance(bot, reason, outage_seconds, now)
    failures = bot.infrastructure_failures
    again = bot.model_copy(update={"infrastructure_failures": failures + 1, "waiting": None,
                                   "outage_since": bot.outage_since or now,
                                   "previous_owner": owner or bot.previous_owner})
    return again, min(first_pause * 2 ** failures, MAX_PAUSE_SECONDS)


def next_look(bot: BotMessage, reason: str, outage_seconds: float, now: float | None = None) -> float:
    """The pause before a bot whose services are still down looks at them again.

    Raises:
        OutageTooLong: The outage has lasted ``outage_seconds``.
    """
    _check_tolerance(bot, reason, outage_seconds, time.time() if now is None else now)
    return PROBE_SECONDS


def outage_left(bot: BotMessage, outage_seconds: float, now: float | None = None) -> float:
    """Seconds of outage the bot may still wait out."""
    since = bot.outage_since
    return outage_seconds - ((time.time() if now is None else now) - since if since else 0.0)


def _check_tolerance(bot: BotMessage, reason: str, outage_seconds: float, now: float) -> None:
    if outage_left(bot, outage_seconds, now) <= 0:
        raise OutageTooLong(f"gave up after {outage_seconds:.0f} s of outage: {reason}")
