"""The page loop of one bot: read a page, ask the LLM, submit, wait, until the end."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botex_core.bot.browser import Browser, BrowserError, open_browser
from botex_core.bot.dialogue import Dialogue
from botex_core.bot.page import Page
from botex_core.bot.prompts import build_prompts
from botex_core.bot.record import BotRecorder, SubmittedAnswer
from botex_core.bot.schemas import Reply, form_value
from sqlalchemy.exc import OperationalError

from botex_core.errors import BotexError, OtreeUnreachableError
from botex_core.llm.client import LLMClient, RateLimiter
from botex_core.store import BotStatus

logger = logging.getLogger(__name__)

MAX_REJECTED_SUBMISSIONS = 3
WAIT_POLL_SECONDS = 0.5
WAIT_REFRESH_SECONDS = 30.0
_PARTICIPANT_CODE = re.compile(r"/InitializeParticipant/([^/?#]+)")


class Abandoned(BotexError):
    """The bot waited on a wait page for longer than it may."""


class Superseded(BotexError):
    """Another runner took the participant over (this one lost its lease); this one stops quietly."""


@dataclass(frozen=True)
class Waiting:
    """The wait page a bot is on and since when (epoch seconds), kept while it is off its slot."""

    url: str
    since: float


class SlotGivenBack(BotexError):
    """The bot left a long wait to make room for others; it goes on later from ``waiting``."""

    def __init__(self, waiting: Waiting) -> None:
        super().__init__(f"waiting on {waiting.url}")
        self.waiting = waiting


@dataclass(frozen=True)
class BotOutcome:
    """How a bot's run ended.

    ``retryable`` when the cause was the infrastructure; ``waiting`` when the bot
    gave its slot back on a wait page and is to go on later.
    """

    status: BotStatus
    reason: str | None = None
    retryable: bool = False
    waiting: Waiting | None = None


def _is_infrastructure(exc: BaseException) -> bool:
    """Browser, network and database faults: another try may well succeed."""
    return isinstance(exc, (BrowserError, OtreeUnreachableError, OperationalError, ConnectionError))


@dataclass
class BotSettings:
    """Everything one bot needs; ``api_key`` is never stored or logged."""

    url: str
    session_id: str
    participant_id: str
    botex_db: str | None = None
    model: str = "gpt-4o-2024-08-06"
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    throttle: bool = False
    full_conv_history: bool = False
    user_prompts: dict[str, str] | None = None
    completion_kwargs: dict[str, Any] = field(default_factory=dict)
    wait_timeout: float = field(default_factory=lambda: float(os.environ.get("BOTEX_WAIT_TIMEOUT", 3600)))

    def bot_parms(self) -> dict[str, Any]:
        """The settings as stored with the conversation: nothing secret."""
        return {
            "session_id": self.session_id,
            "participant_id": self.participant_id,
            "url": self.url,
            "model": self.model,
            "api_base": self.api_base,
            "throttle": self.throttle,
            "full_conv_history": self.full_conv_history,
            "user_prompts": self.user_prompts,
            "wait_timeout": self.wait_timeout,
        }


def participant_code(url: str) -> str | None:
    """The participant code in an oTree participant link, if it has one."""
    match = _PARTICIPANT_CODE.search(url)
    return match.group(1) if match else None


def run_bot(
    settings: BotSettings,
    limiter: RateLimiter | None = None,
    superseded: Callable[[], bool] = lambda: False,
    give_back_after: float | None = None,
    waiting: Waiting | None = None,
) -> BotOutcome:
    """Play one participant to the end and record everything; return how it ended.

    ``limiter`` paces the bot's LLM calls (the fleet shares one per queue).
    ``superseded`` tells when another runner has taken the participant over:
    the bot then stops before its next page and leaves the store to that runner.
    ``give_back_after``: seconds on a wait page after which the bot stops with a
    ``waiting`` outcome, so that its slot can run the participants it waits for;
    run again with that ``waiting``, it goes on and its wait timeout counts on.
    """
    prompts = build_prompts(settings.user_prompts)
    recorder = BotRecorder(settings.botex_db, settings.session_id, settings.participant_id)
    state = recorder.begin(new_attempt=waiting is None)
    client = LLMClient(
        model=settings.model,
        api_key=settings.api_key,
        api_base=settings.api_base,
        throttle=settings.throttle,
        completion_kwargs=settings.completion_kwargs,
        limiter=limiter,
    )
    dialogue = Dialogue(client, prompts, settings.full_conv_history, state.messages, state.summary)
    client.record = lambda exchange: recorder.record_exchange(dialogue.phase, exchange)
    name = f"bot {settings.participant_id}"
    try:
        with open_browser() as browser:
            page = browser.open(settings.url)
            if not state.resumed:
                dialogue.start()
            else:
                logger.info("%s: resuming on %s", name, page.name)
            wait_rules = WaitRules(settings.wait_timeout, give_back_after, waiting)
            _play(browser, page, dialogue, recorder, settings, name, superseded, wait_rules)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its reason
        if isinstance(exc, Superseded) or superseded():
            # The participant's store rows belong to the runner that took over.
            logger.error("%s stops: another runner took the participant over (this one lost its lease)", name)
            return BotOutcome(BotStatus.RUNNING, "lost its lease to another runner")
        recorder.save_conversation(dialogue.messages, settings.bot_parms())
        if isinstance(exc, SlotGivenBack):
            reason = f"gave its slot back while {exc}"
            recorder.end(BotStatus.QUEUED, reason)
            logger.info("%s %s", name, reason)
            return BotOutcome(BotStatus.QUEUED, reason, waiting=exc.waiting)
        if isinstance(exc, Abandoned):
            recorder.end(BotStatus.ABANDONED, str(exc))
            logger.warning("%s abandoned: %s", name, exc)
            return BotOutcome(BotStatus.ABANDONED, str(exc))
        reason = str(exc) if isinstance(exc, BotexError) else f"{type(exc).__name__}: {exc}"
        recorder.end(BotStatus.FAILED, reason)
        logger.error("%s failed: %s", name, reason)
        return BotOutcome(BotStatus.FAILED, reason, _is_infrastructure(exc))
    recorder.save_conversation(dialogue.messages, settings.bot_parms())
    confused = dialogue.confused_replies
    reason = f"stayed confused on {confused} prompt(s)" if confused else None
    recorder.end(BotStatus.FINISHED, reason)
    logger.info("%s finished", name)
    return BotOutcome(BotStatus.FINISHED, reason)


@dataclass
class WaitRules:
    """How long a bot may wait in all (``timeout``) and on its slot (``give_back_after``)."""

    timeout: float
    give_back_after: float | None = None
    earlier: Waiting | None = None

    def since(self, page: Page) -> float:
        """When the bot came to ``page``: now, unless it waited there before it gave its slot back."""
        earlier, self.earlier = self.earlier, None
        return earlier.since if earlier is not None and earlier.url == page.url else time.time()


def _play(
    browser: Browser, page: Page, dialogue: Dialogue, recorder: BotRecorder, settings: BotSettings, name: str,
    superseded: Callable[[], bool], wait_rules: WaitRules,
) -> None:
    while True:
        page = _through_wait_pages(browser, page, wait_rules)
        if superseded():
            raise Superseded("lost its lease")
        if page.is_last:
            if page.app is None and "OutOfRangeNotification" not in page.url:
                raise BotexError(f"reached a page that is not part of the study: '{page.title}' at {page.url}")
            dialogue.end()
            return
        logger.info("%s: page %s (%d question(s))", name, page.name, len(page.questions))
        reply = dialogue.read_page(page)
        learned_limits: dict[str, int] = {}
        for _ in range(MAX_REJECTED_SUBMISSIONS + 1):
            # Stored before submitting, so that a crash cannot lose an accepted
            # answer; a resubmission of the page replaces them.
            if page.questions:
                recorder.store_answers(page, _submitted_answers(page, reply))
            next_page = browser.submit(_form_values(page, reply))
            if next_page.url != page.url:
                break
            learned_limits.update(next_page.max_lengths_from_errors())
            page = next_page.with_max_lengths(learned_limits)
            errors = page.errors or ["the page did not change after the answers were submitted"]
            logger.info("%s: oTree rejected the answers on %s: %s", name, page.name, "; ".join(errors))
            reply = dialogue.read_page(page, errors)
        else:
            recorder.forget_answers(page)
            raise BotexError(
                f"oTree rejected the answers on {page.name} {MAX_REJECTED_SUBMISSIONS + 1} times: "
                f"{'; '.join(page.errors)}"
            )
        recorder.save_conversation(dialogue.messages, settings.bot_parms())
        page = next_page


def _through_wait_pages(browser: Browser, page: Page, rules: WaitRules) -> Page:
    if not page.is_wait_page:
        return page
    since = rules.since(page)
    on_slot_since = last_refresh = last_read = time.monotonic()
    while page.is_wait_page:
        now = time.monotonic()
        if time.time() - since > rules.timeout:
            raise Abandoned(f"waited more than {rules.timeout:.0f} s on the wait page {page.name}")
        if rules.give_back_after is not None and now - on_slot_since > rules.give_back_after:
            raise SlotGivenBack(Waiting(page.url, since))
        time.sleep(WAIT_POLL_SECONDS)
        try:
            if now - last_refresh > WAIT_REFRESH_SECONDS:
                page, last_refresh = browser.refresh(), now
            else:
                page = browser.read()
            last_read = time.monotonic()
        except BrowserError:
            # A wait page that navigates on by itself cannot be read for a moment;
            # a browser that cannot read it for longer has failed.
            if time.monotonic() - last_read > WAIT_REFRESH_SECONDS:
                raise
    return page


def _form_values(page: Page, reply: Reply) -> dict[str, Any]:
    answers = getattr(reply, "answers", None)
    return {q.id: form_value(q, getattr(answers, q.id).answer) for q in page.questions} if answers else {}


def _submitted_answers(page: Page, reply: Reply) -> list[SubmittedAnswer]:
    answers = getattr(reply, "answers")
    return [
        SubmittedAnswer(q.id, q.label, str(getattr(answers, q.id).answer), getattr(answers, q.id).reason)
        for q in page.questions
    ]
