"""A dry run: one session of an arm played with answers made from the reply schemas, no LLM asked.

It tells what an experiment never played will ask of the models: the bots send
their real prompts page by page (so the prompt tokens are those of a real run),
each reply is made from its schema (:mod:`botex_core.llm.schema_answers`), and
the calls and tokens are counted as a real run counts them. The session is
created on the oTree server like any other; what the bots store goes to a
temporary database that is removed afterwards.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from botex_core.bot.drivers import driver_for
from botex_core.bot.job import BotSettings
from botex_core.bot.runner import run_bot
from botex_core.llm.client import RetryPolicy
from botex_core.llm.schema_answers import SchemaAnswerer
from botex_core.otree.position import PositionReader
from botex_core.progress import bots_progress
from botex_core.settings import BotexSettings
from botex_core.study.estimate import Retries, bots_retries
from botex_core.study.spec import Arm, Study
from botex_fleet.studies import create_arm_session
from botex_worker.submission import Submission

logger = logging.getLogger(__name__)

# Bots of a dry run wait no longer than this on a wait page (for humans, who never come).
DRY_RUN_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class DryRunUse:
    """What the bots of one model asked for in a dry run."""

    model: str
    bots: int
    finished: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    # The tries beyond the first that oTree's rejections of the made-up answers caused.
    retries: Retries | None


def dry_run_arm(spec: Study, arm: Arm, personas: list[str | None], otree_server_url: str,
                otree_rest_key: str | None, submission: Submission, local: BotexSettings,
                show: Callable[[str], None] = logger.info) -> list[DryRunUse]:
    """Play one session of ``arm`` (its bots with ``personas``) with answers from the reply schemas;
    return the LLM use of its bots, per model. The bots take the driver and the live limits of
    ``submission`` (no spend cap, and waits of at most :data:`DRY_RUN_WAIT_SECONDS`) and Chromium's
    settings from ``local``; ``show`` gets a line when the session starts and when it ends."""
    started = time.monotonic()
    submission = replace(submission, embedded=True, max_cost=None, max_tokens=None,
                         wait_timeout=min(submission.wait_timeout, DRY_RUN_WAIT_SECONDS))
    with tempfile.TemporaryDirectory(prefix="botex-dry-run-") as folder:
        botex_db = str(Path(folder) / "dry-run.sqlite3")
        code, bots = create_arm_session(spec, arm, personas, botex_db, submission, otree_server_url, otree_rest_key)
        show(f"dry run of arm {arm.name}: session {code}, {len(bots)} bot(s) answered from the reply schemas")
        _play(bots, otree_rest_key, local)
        used = [_use_of(model, [bot for bot in bots if bot.model == model], botex_db)
                for model in sorted({bot.model for bot in bots})]
    calls = sum(use.llm_calls for use in used)
    finished = sum(use.finished for use in used)
    show(f"dry run of arm {arm.name}: {finished} of {len(bots)} bot(s) finished, {calls} LLM call(s), "
         f"{time.monotonic() - started:.0f} s")
    return used


def _play(bots: list[BotSettings], otree_rest_key: str | None, local: BotexSettings) -> None:
    answerer = SchemaAnswerer()
    reader = PositionReader(otree_rest_key)
    threads = [
        threading.Thread(
            target=run_bot, name=f"dry-run-{bot.participant_id}",
            args=(bot, driver_for(bot.driver, local), reader.check_for(bot.url, bot.session_id, bot.participant_id),
                  RetryPolicy()),
            kwargs={"completion": answerer},
        )
        for bot in bots
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _use_of(model: str, bots: list[BotSettings], botex_db: str) -> DryRunUse:
    codes = [bot.participant_id for bot in bots]
    progress = bots_progress(codes, botex_db)
    return DryRunUse(model, len(bots), progress.finished, progress.llm_calls, progress.prompt_tokens,
                     progress.completion_tokens, bots_retries(botex_db, codes))
