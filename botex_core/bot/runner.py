"""The page loop of one bot: read a page, ask the LLM, submit, wait, until the end."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from botex_core.bot.budget import BudgetKeeper
from botex_core.bot.dialogue import Dialogue
from botex_core.bot.driver import Driver, DriverError, OpenDriver
from botex_core.bot.job import BotOutcome, BotSettings, BotStop, Superseded, Waiting
from botex_core.bot.live import LiveLimits, LivePage
from botex_core.bot.page import Page
from botex_core.bot.prompts import build_prompts
from botex_core.bot.record import BotRecorder, ConversationSoFar, SubmittedAnswer
from botex_core.bot.schemas import Reply, form_value
from botex_core.errors import BotexError, BudgetReached, OtreeError, OtreeUnreachableError, StoreUnreachableError
from botex_core.llm.client import LLMClient, RateLimiter, RetryPolicy
from botex_core.otree.position import ParticipantPosition, PositionCheck
from botex_core.store import BotStatus

logger = logging.getLogger(__name__)

MAX_REJECTED_SUBMISSIONS = 3
# A wait page that navigates on by itself cannot be read for a moment; one
# that cannot be read for this long means the driver failed.
UNREADABLE_WAIT_SECONDS = 30.0


class Abandoned(BotStop):
    """The bot waited on a wait page for longer than it may."""


class SlotGivenBack(BotStop):
    """The bot left a long wait to make room for others; it goes on later from ``waiting``."""

    def __init__(self, waiting: Waiting) -> None:
        super().__init__(f"waiting on {waiting.url}")
        self.waiting = waiting


def _is_infrastructure(exc: BaseException) -> bool:
    """Driver, network and database faults: another try may well succeed."""
    return isinstance(exc, (DriverError, OtreeUnreachableError, StoreUnreachableError, OperationalError,
                            PoolTimeoutError, ConnectionError))


def run_bot(
    settings: BotSettings,
    open_driver: OpenDriver,
    position: PositionCheck,
    retry: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
    superseded: Callable[[], bool] = lambda: False,
    give_back_after: float | None = None,
    waiting: Waiting | None = None,
    lease_owner: str | None = None,
    completion: Callable[..., Any] | None = None,
) -> BotOutcome:
    """Play one participant to the end and record everything; return how it ended.

    ``settings.botex_db`` must name the database. ``open_driver`` opens what
    shows the bot its pages. ``position`` reads where oTree has the participant:
    the bot is finished only when oTree has it on or past its last page. ``retry`` says how patiently LLM errors are
    retried; ``limiter`` paces the bot's LLM calls (the fleet shares one per
    queue). ``superseded`` tells when another runner has taken the participant
    over: the bot then stops before its next page and leaves the store to that
    runner. ``give_back_after``: seconds on a wait page after which the bot
    stops with a ``waiting`` outcome, so that its slot can run the participants
    it waits for; run again with that ``waiting``, it goes on and its wait
    timeout counts on. ``lease_owner``: the lease this run holds; the bot's
    status is only written while it holds it. ``completion`` answers the LLM
    requests in LiteLLM's place (a stand-in).
    """
    prompts = build_prompts(settings.user_prompts)
    recorder = BotRecorder(settings.botex_db, settings.session_id, settings.participant_id, lease_owner)
    budget = BudgetKeeper(settings.botex_db, settings.budget, settings.model) if settings.budget else None
    if budget is not None:
        try:
            budget.check()  # a bot that has not started does not start once the budget is spent
        except BudgetReached as exc:
            return _stopped(exc, recorder, f"bot {settings.participant_id}")
    state = recorder.begin(new_attempt=waiting is None, driver="browser" if settings.driver == "browser" else "http")
    client = LLMClient(
        model=settings.model,
        api_key=settings.api_key,
        api_base=settings.api_base,
        throttle=settings.throttle,
        completion_kwargs=settings.completion_kwargs,
        private_parameters=settings.private_parameters,
        retry=retry or RetryPolicy(),
        limiter=limiter,
        budget=budget,
        cache_namespace=settings.replay_of,
        cache_only=settings.strict_replay,
        completion=completion,
    )
    dialogue = Dialogue(client, prompts, settings.full_conv_history, state.messages, state.summary, settings.persona)
    client.record = lambda exchange: recorder.record_exchange(dialogue.phase, exchange)
    name = f"bot {settings.participant_id}"
    try:
        with open_driver(recorder.note_driver) as driver:
            page = driver.open(settings.url)
            if not state.resumed:
                dialogue.start()
            else:
                logger.info("%s: resuming on %s", name, page.name)
            wait_rules = WaitRules(settings.wait_timeout, give_back_after, waiting)
            _play(driver, page, dialogue, recorder, settings, name, superseded, wait_rules, position)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its reason
        if isinstance(exc, Superseded) or superseded() or not _conversation_saved(recorder, dialogue, settings):
            return _lost_lease(name)
        return _stopped(exc, recorder, name)
    if not _conversation_saved(recorder, dialogue, settings):
        return _lost_lease(name)
    confused = dialogue.confused_replies
    reason = f"stayed confused on {confused} prompt(s)" if confused else None
    recorder.end(BotStatus.FINISHED, reason)
    logger.info("%s finished", name)
    return BotOutcome(BotStatus.FINISHED, reason)


def _conversation_saved(recorder: BotRecorder, dialogue: Dialogue, settings: BotSettings) -> bool:
    """Save the bot's conversation; False when another run took the participant over (nothing is saved)."""
    try:
        recorder.save_conversation(_so_far(dialogue, settings))
    except Superseded:
        return False
    return True


def _lost_lease(name: str) -> BotOutcome:
    """The participant's store rows belong to the run that took over: this one stops without a word to the store."""
    logger.error("%s stops: another runner took the participant over (this one lost its lease)", name)
    return BotOutcome(BotStatus.RUNNING, "lost its lease to another runner")


def _stopped(exc: Exception, recorder: BotRecorder, name: str) -> BotOutcome:
    """Record why the bot stopped before the end: it gave its slot back, was abandoned or failed."""
    if isinstance(exc, SlotGivenBack):
        reason = f"gave its slot back while {exc}"
        recorder.end(BotStatus.QUEUED, reason)
        logger.info("%s %s", name, reason)
        return BotOutcome(BotStatus.QUEUED, reason, waiting=exc.waiting)
    if isinstance(exc, (Abandoned, BudgetReached)):
        recorder.end(BotStatus.ABANDONED, str(exc))
        logger.warning("%s abandoned: %s", name, exc)
        return BotOutcome(BotStatus.ABANDONED, str(exc))
    reason = str(exc) if isinstance(exc, BotexError) else f"{type(exc).__name__}: {exc}"
    recorder.end(BotStatus.FAILED, reason)
    retryable = _is_infrastructure(exc)
    if retryable:
        logger.warning("%s stopped by a fault of its surroundings: %s", name, reason)
    else:
        logger.error("%s failed: %s", name, reason)
    return BotOutcome(BotStatus.FAILED, reason, retryable)


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
    driver: Driver, page: Page, dialogue: Dialogue, recorder: BotRecorder, settings: BotSettings, name: str,
    superseded: Callable[[], bool], wait_rules: WaitRules, position: PositionCheck,
) -> None:
    while True:
        page = _watch(driver, page, wait_rules, _WAIT_PAGE)
        if superseded():
            raise Superseded("lost its lease")
        if page.interactive:
            logger.info("%s: page %s is interactive (%d action(s))", name, page.name, len(page.actions))
            limits = LiveLimits(settings.live_look_seconds, settings.live_max_calls, settings.live_max_seconds,
                                settings.wait_timeout)
            after = LivePage(driver, dialogue, recorder, limits, name).play(page, position)
            recorder.save_conversation(_so_far(dialogue, settings))
            if after is None:
                dialogue.end()
                return
            page = after
            continue
        if page.has_no_way_on:
            if page.app is None and "OutOfRangeNotification" not in page.url:
                raise BotexError(f"reached a page that is not part of the study: '{page.title}' at {page.url}")
            where = _where_otree_has(page, position)
            if where.done:
                dialogue.end()
                return
            logger.info("%s: %s has no way on, and %s: watching it until oTree moves on", name, page.name,
                        where.describe())
            page = _watch(driver, page, wait_rules, _DeadEnd(page, where))
            continue
        logger.info("%s: page %s (%d question(s))", name, page.name, len(page.questions))
        reply = dialogue.read_page(page)
        learned_limits: dict[str, int] = {}
        for attempt in range(1, MAX_REJECTED_SUBMISSIONS + 2):
            # Stored before submitting, with the conversation, so that a crash cannot
            # lose an accepted answer; a resubmission of the page replaces them.
            if page.questions:
                recorder.store_answers(page, _submitted_answers(page, reply), _so_far(dialogue, settings))
            next_page = driver.submit(_form_values(page, reply))
            if next_page.url != page.url:
                break
            recorder.store_rejection(next_page, attempt)
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
        if not page.questions:  # a page with questions saved the conversation with its answers
            recorder.save_conversation(_so_far(dialogue, settings))
        page = next_page


def _so_far(dialogue: Dialogue, settings: BotSettings) -> ConversationSoFar:
    return ConversationSoFar(dialogue.messages, settings.bot_parms())


def _where_otree_has(page: Page, position: PositionCheck) -> ParticipantPosition:
    """oTree's own word on where the participant is; a refusal (no REST key, say) stops the bot."""
    try:
        return position()
    except OtreeUnreachableError:
        raise
    except OtreeError as exc:
        raise BotexError(f"cannot ask oTree whether {page.name or page.url} is the last page: {exc}") from None


class _Watched(Protocol):
    """What a bot watches a page for: while it lasts, and what ends the watch when it lasts too long."""

    def lasts(self, page: Page) -> bool:
        """Whether the watch goes on while ``page`` is shown."""

    def too_long(self, page: Page, seconds: float) -> Exception:
        """What stops a bot that watched ``page`` for more than ``seconds``."""


class _WaitPage:
    """A wait page lasts until oTree shows another kind of page; too long a wait abandons the bot."""

    def lasts(self, page: Page) -> bool:
        return page.is_wait_page

    def too_long(self, page: Page, seconds: float) -> Exception:
        return Abandoned(f"waited more than {seconds:.0f} s on the wait page {page.name}")


_WAIT_PAGE = _WaitPage()


@dataclass(frozen=True)
class _DeadEnd:
    """A page with no way on before the participant's last page lasts until oTree moves the participant."""

    page: Page
    where: ParticipantPosition

    def lasts(self, page: Page) -> bool:
        return page.url == self.page.url

    def too_long(self, page: Page, seconds: float) -> Exception:
        return BotexError(
            f"stuck on {page.name or page.url}: the page has no way on, {self.where.describe()}, "
            f"and nothing moved it on within {seconds:.0f} s (a dead end for a human too)"
        )


def _watch(driver: Driver, page: Page, rules: WaitRules, watched: _Watched) -> Page:
    """Look at ``page`` again and again while it lasts; return the page that follows."""
    if not watched.lasts(page):
        return page
    since = rules.since(page)
    on_slot_since = last_read = time.monotonic()
    while watched.lasts(page):
        if time.time() - since > rules.timeout:
            raise watched.too_long(page, rules.timeout)
        if rules.give_back_after is not None and time.monotonic() - on_slot_since > rules.give_back_after:
            raise SlotGivenBack(Waiting(page.url, since))
        try:
            page = driver.wait()
            last_read = time.monotonic()
        except DriverError:
            if time.monotonic() - last_read > UNREADABLE_WAIT_SECONDS:
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
