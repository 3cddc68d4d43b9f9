"""Running bots: one participant (``run_single_bot``) or all bots of a session."""

from __future__ import annotations

import logging
import threading
from typing import Any

from botex_core.bot.drivers import driver_for
from botex_core.bot.job import BotSettings
from botex_core.bot.prompts import build_prompts
from botex_core.bot.runner import run_bot
from botex_core.errors import ConfigurationError
from botex_core.llm.client import RetryPolicy
from botex_core.llm.credentials import credentials_only, merged, withheld
from botex_core.otree.links import participant_code
from botex_core.otree.position import PositionReader
from botex_core.settings import DEFAULT_MODEL, BotexSettings, OtreeSettings, resolve
from botex_core.store import ledger
from botex_core.store.engine import masked
from botex_core.store.ledger import NewParticipant
from botex_worker.dispatch import enqueue, run_in_process, session_bots, wait_until_ended
from botex_worker.settings import fleet_settings
from botex_worker.submission import Submission

logger = logging.getLogger(__name__)


def run_single_bot(
    url: str,
    session_name: str = "unknown",
    session_id: str = "unknown",
    participant_id: str = "unknown",
    botex_db: str | None = None,
    model: str = DEFAULT_MODEL,
    api_key: str | None = None,
    api_base: str | None = None,
    throttle: bool = False,
    full_conv_history: bool = False,
    user_prompts: dict[str, str] | None = None,
    wait: bool = True,
    driver: str | None = None,
    live_look_seconds: float | None = None,
    live_max_calls: int | None = None,
    live_max_seconds: float | None = None,
    **kwargs: Any,
) -> None | threading.Thread:
    """Run one bot on a participant link.

    Args:
        url: The participant link.
        session_name: Name of the session config, for the store.
        session_id: The oTree session code, for the store.
        participant_id: The participant code; taken from ``url`` when unknown.
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        model: A LiteLLM model string, or ``llamacpp`` for a local llama.cpp server.
        api_key: The LLM API key; else LiteLLM reads the provider's variable.
        api_base: Base URL of the LLM server (``http://localhost:8080`` for llamacpp).
        throttle: Back off from the first LLM error on (it switches on by itself
            at the first rate-limit or transient error).
        full_conv_history: Send the whole conversation with every request.
        user_prompts: Prompts that replace the defaults, by key.
        wait: Run now and return when done; else return a Thread to start.
        driver: How the bot sees its pages: ``auto`` (over HTTP, in Chromium from
            the first page that needs JavaScript), ``http`` or ``browser``;
            defaults to ``BOTEX_DRIVER``, else ``auto``.
        live_look_seconds, live_max_calls, live_max_seconds: On an interactive page
            (live or chat): seconds between looks when nothing changes, and the most
            LLM calls and seconds on one page; default ``BOTEX_LIVE_LOOK_SECONDS`` (5),
            ``BOTEX_LIVE_MAX_CALLS`` (30), ``BOTEX_LIVE_MAX_SECONDS`` (600).
        **kwargs: Passed on to ``litellm.completion``.

    Returns:
        None with ``wait``, else the (not yet started) thread of the bot.

    Raises:
        ConfigurationError: ``user_prompts`` has an unknown key.
    """
    api_key = _checked_settings(user_prompts, api_key, kwargs)
    local = resolve(BotexSettings, db=botex_db, driver=driver, live_look_seconds=live_look_seconds,
                    live_max_calls=live_max_calls, live_max_seconds=live_max_seconds)
    if participant_id == "unknown":
        participant_id = participant_code(url) or participant_id
    ledger.ensure_participant(local.db, NewParticipant(session_name, session_id, participant_id, False, url))
    settings = BotSettings(
        url=url, session_id=session_id, participant_id=participant_id, botex_db=local.db,
        model=model, api_key=api_key, api_base=api_base, throttle=throttle,
        full_conv_history=full_conv_history, user_prompts=user_prompts, completion_kwargs=withheld(kwargs),
        private_parameters=merged(local.llm_parameters, credentials_only(kwargs)),
        wait_timeout=local.wait_timeout, driver=local.driver, live_look_seconds=local.live_look_seconds,
        live_max_calls=local.live_max_calls, live_max_seconds=local.live_max_seconds,
    )
    position = PositionReader(resolve(OtreeSettings).rest_key).check_for(url, session_id, participant_id)
    arguments = (settings, driver_for(local.driver, local), position,
                 RetryPolicy.of(local, fleet_settings().outage_seconds))
    if wait:
        run_bot(*arguments)
        return None
    return threading.Thread(target=run_bot, args=arguments, name=f"bot-{participant_id}")


def run_bots_on_session(
    session_id: str,
    bot_urls: list[str] | None = None,
    botex_db: str | None = None,
    model: str = DEFAULT_MODEL,
    api_key: str | None = None,
    api_base: str | None = None,
    throttle: bool = False,
    full_conv_history: bool = False,
    user_prompts: dict[str, str] | None = None,
    already_started: bool = False,
    wait: bool = True,
    driver: str | None = None,
    live_look_seconds: float | None = None,
    live_max_calls: int | None = None,
    live_max_seconds: float | None = None,
    max_cost: float | None = None,
    max_tokens: int | None = None,
    **kwargs: Any,
) -> None | list[Any]:
    """Run a bot on every bot participant of a session, all at once.

    Without ``BOTEX_BROKER_URL`` the bots run through an in-process worker;
    with it they go to the fleet's queue and this call waits for the store to
    say they ended.

    Args:
        session_id: The oTree session code.
        bot_urls: The links to play; by default the session's bots from the store.
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        model: A LiteLLM model string, or ``llamacpp`` for a local llama.cpp server.
        api_key: The LLM API key; else LiteLLM reads the provider's variable.
        api_base: Base URL of the LLM server (``http://localhost:8080`` for llamacpp).
        throttle: Back off from the first LLM error on.
        full_conv_history: Send the whole conversation with every request.
        user_prompts: Prompts that replace the defaults, by key.
        already_started: Also run bots that started but did not finish.
        wait: Return when every bot is done; else return handles: the thread of
            the in-process worker, or the fleet's task results.
        driver: How the bots see their pages: ``auto`` (over HTTP, in Chromium
            from the first page that needs JavaScript), ``http`` or ``browser``;
            defaults to ``BOTEX_DRIVER``, else ``auto``. Stored with each bot.
        live_look_seconds, live_max_calls, live_max_seconds: On an interactive page
            (live or chat): seconds between looks when nothing changes, and the most
            LLM calls and seconds on one page; default ``BOTEX_LIVE_LOOK_SECONDS`` (5),
            ``BOTEX_LIVE_MAX_CALLS`` (30), ``BOTEX_LIVE_MAX_SECONDS`` (600). Stored with each bot.
        max_cost, max_tokens: The session's spend cap, in US dollars at the model's list
            price and in tokens (default ``BOTEX_MAX_COST``, ``BOTEX_MAX_TOKENS``; none).
            Once the bots' spend reaches it no LLM call starts, bots not yet started do
            not start, and bots on their way end ``abandoned`` ("budget reached"), their
            answers kept; a higher cap and ``botex-cli retry`` carry on.
        **kwargs: Passed on to ``litellm.completion``.

    Returns:
        None with ``wait``, else the handles.

    Raises:
        ConfigurationError: ``user_prompts`` has an unknown key, or the session
            has no bots to run.
    """
    db = resolve(BotexSettings, db=botex_db).db
    submission = Submission.resolved(driver, live_look_seconds=live_look_seconds, live_max_calls=live_max_calls,
                                     live_max_seconds=live_max_seconds, max_cost=max_cost, max_tokens=max_tokens)
    try:
        api_key = _checked_settings(user_prompts, api_key, kwargs)
        bots = session_bots(
            session_id, db, submission, bot_urls, already_started, model=model, api_base=api_base,
            throttle=throttle, full_conv_history=full_conv_history, user_prompts=user_prompts,
            completion_kwargs=kwargs,
        )
        if not bots:
            raise ConfigurationError(f"session {session_id} has no bots to run in {masked(db)}")
        for bot in bots:
            ledger.ensure_participant(db, NewParticipant("unknown", session_id, bot.participant_id, False, bot.url))
        logger.info("running %d bot(s) on session %s", len(bots), session_id)
        if submission.embedded:
            runner = threading.Thread(target=run_in_process, args=(bots, db, submission, api_key),
                                      name=f"bots-{session_id}")
            runner.start()
            results: list[Any] = [runner]
        else:
            results = enqueue(bots, db, submission, api_key)
    except ConfigurationError as exc:
        ledger.note_not_started(db, session_id, str(exc))
        raise
    if not wait:
        return results
    if submission.embedded:
        runner.join()
    else:
        wait_until_ended(bots, db)
    return None


def _checked_settings(user_prompts: dict[str, str] | None, api_key: str | None, kwargs: dict[str, Any]) -> str | None:
    """Fail on unknown prompt keys before anything starts; take the key the original also took."""
    build_prompts(user_prompts)
    if api_key is None and "openai_api_key" in kwargs:
        return kwargs.pop("openai_api_key")
    return api_key

