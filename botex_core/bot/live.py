"""Playing an interactive page: acting with its controls while it stays open, as a participant would.

On a live page (``liveSend``) or a page with oTree's chat and nothing to answer
in a form, the bot looks at the page as it is rendered now, asks the LLM to
choose one of the things it can do (press a button, type a value and press,
write in the chat, go on, or wait), does it, and watches the page until it
changes (the server's answer, another participant's move, a message) or a look
interval passes; then it decides again. It stops when the page goes away
(ended by the server, a script, its timer or the bot's own Next). While the
page offers nothing but waiting, no LLM is asked.

Limits keep cost and pace in hand: after ``max_calls`` LLM calls or
``max_seconds`` on one page the bot stops deciding, says so, and goes on if the
page has a way on, else watches it until it ends. A page that neither ends nor
changes within the wait timeout ends the bot with the page and the reason.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from botex_core.bot.dialogue import Dialogue, NoValidReply
from botex_core.bot.driver import Driver
from botex_core.bot.page import Action, ActionKind, Page
from botex_core.bot.record import BotRecorder, LiveStep
from botex_core.bot.schemas import LiveOption
from botex_core.errors import BotexError
from botex_core.otree.position import PositionCheck

logger = logging.getLogger(__name__)

WAIT = "wait and watch the page"
GO_ON = "go on to the next page (press Next)"
# What the bot is told changed on the page, at most.
NEWS_MAX = 600


@dataclass(frozen=True)
class LiveLimits:
    """How a bot paces itself on an interactive page."""

    look_seconds: float = 5.0
    max_calls: int = 30
    max_seconds: float = 600.0
    # How long a page may stay unchanged while the bot has nothing to do on it.
    wait_timeout: float = 3600.0


class LivePage:
    """One interactive page played to its end by one bot."""

    def __init__(self, driver: Driver, dialogue: Dialogue, recorder: BotRecorder, limits: LiveLimits, name: str) -> None:
        self._driver = driver
        self._dialogue = dialogue
        self._recorder = recorder
        self._limits = limits
        self._name = name
        self._calls = 0
        self._done: list[str] = []
        self._stopped = False
        # When the bot last saw the page show something new (its reaction counts from there).
        self._news_seen_at: float | None = None

    def play(self, page: Page, position: PositionCheck) -> Page | None:
        """Act on ``page`` until it goes away; return the page that follows, or None when the page
        offers nothing more and oTree has the participant on its last page (the end)."""
        url, started = page.url, time.monotonic()
        quiet_since, news = time.monotonic(), ""
        while page.url == url:
            if not self._stopped and self._limit_reached(started):
                self._stop(page)
                if page.has_next_button:
                    return self._driver.submit({})
            options = self._options(page)
            if len(options) > 1:
                after = self._decide_and_act(page, options, news)
            else:
                after = self._driver.watch(self._limits.look_seconds, page)
            if after.url == page.url and after.text == page.text:
                if self._at_the_end(page, options, position):
                    return None
                self._give_up_if_quiet(page, quiet_since)
            else:
                quiet_since = self._news_seen_at = time.monotonic()
            news, page = _news(page.text, after.text), after
        return page

    def _decide_and_act(self, page: Page, options: tuple[LiveOption, ...], news: str) -> Page:
        by_text = _actions_by_option(page)
        try:
            reply = self._dialogue.read_live_page(page, options, news, self._done)
            chosen, reason = reply.action, reply.reason  # type: ignore[attr-defined]
            note = ""
        except NoValidReply as exc:
            chosen, reason, note = None, None, f"no valid reply, so the bot waited: {exc}"
        self._calls += 1
        text = chosen.do if chosen is not None else WAIT
        value = getattr(chosen, "value", None)
        if text == GO_ON:
            self._recorder.store_action(page, LiveStep("go_on", "Next", None, reason, True, news))
            self._done.append("went on")
            return self._driver.submit({})
        if text == WAIT:
            after = self._driver.watch(self._limits.look_seconds, page)
            self._recorder.store_action(page, LiveStep("wait", None, None, reason, after.text != page.text, news, note))
            return after
        action = by_text[text]
        done = self._driver.act(action.id, None if value is None else _typed(value))
        reaction = time.monotonic() - self._news_seen_at if news and self._news_seen_at is not None else None
        after = self._driver.watch(self._limits.look_seconds, page)
        changed = after.url != page.url or after.text != page.text
        self._recorder.store_action(page, LiveStep(action.kind.value, action.label, _shown(value), reason, changed, news,
                                                   "" if done else "the control was gone when the bot used it",
                                                   reaction))
        self._done.append(_described(action, value))
        logger.info("%s: %s on %s", self._name, _described(action, value), page.name)
        return after

    def _options(self, page: Page) -> tuple[LiveOption, ...]:
        if self._stopped:
            return (LiveOption(WAIT),)
        options = [LiveOption(WAIT), *(_option(text, action) for text, action in _actions_by_option(page).items())]
        if page.has_next_button:
            options.append(LiveOption(GO_ON))
        return tuple(options)

    def _limit_reached(self, started: float) -> bool:
        return self._calls >= self._limits.max_calls or time.monotonic() - started >= self._limits.max_seconds

    def _stop(self, page: Page) -> None:
        self._stopped = True
        reason = (f"stops deciding on {page.name} after {self._calls} LLM call(s) and "
                  f"{'the most calls' if self._calls >= self._limits.max_calls else 'the most time'} for one page")
        self._recorder.store_action(page, LiveStep("stop", reason=reason))
        logger.info("%s %s", self._name, reason)

    def _at_the_end(self, page: Page, options: tuple[LiveOption, ...], position: PositionCheck) -> bool:
        """A page that offers nothing more and no way on may be the participant's last: oTree says."""
        if len(options) > 1 or page.has_next_button:
            return False
        return position().done

    def _give_up_if_quiet(self, page: Page, quiet_since: float) -> None:
        if time.monotonic() - quiet_since > self._limits.wait_timeout:
            why = "stopped deciding at its limit" if self._stopped else "had nothing to do on it"
            raise BotexError(f"stuck on {page.name}: the bot {why}, and the page neither changed nor ended "
                             f"within {self._limits.wait_timeout:.0f} s")


def _actions_by_option(page: Page) -> dict[str, Action]:
    """The page's actions by the text the LLM reads (labels that repeat are numbered)."""
    counted: Counter[str] = Counter()
    named: dict[str, Action] = {}
    for action in page.actions:
        text = _option_text(action)
        counted[text] += 1
        named[text if counted[text] == 1 else f"{text} ({counted[text]})"] = action
    return named


def _option_text(action: Action) -> str:
    if action.kind == ActionKind.CHAT:
        return "write a message in the chat"
    if action.kind == ActionKind.ENTER:
        asked = f" {action.input_label.rstrip(':')}" if action.input_label else " a value"
        return f"type{asked} and press '{action.label}'"
    return f"press '{action.label}'"


def _option(text: str, action: Action) -> LiveOption:
    if action.kind == ActionKind.CHAT or (action.kind == ActionKind.ENTER and not action.numeric):
        return LiveOption(text, "text")
    if action.kind == ActionKind.ENTER:
        whole = all(bound is None or float(bound).is_integer() for bound in (action.min, action.max))
        return LiveOption(text, "integer" if whole else "number", action.min, action.max)
    return LiveOption(text)


def _typed(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _shown(value: Any) -> str | None:
    return None if value is None else _typed(value)


def _described(action: Action, value: Any) -> str:
    if action.kind == ActionKind.CHAT:
        return f"wrote in the chat: {_typed(value)!r}"
    if action.kind == ActionKind.ENTER:
        return f"typed {_typed(value)} and pressed '{action.label}'"
    return f"pressed '{action.label}'"


def _news(before: str, after: str) -> str:
    """The lines the page shows now that it did not show before, in the page's order."""
    old = set(before.splitlines())
    fresh = [line.strip() for line in after.splitlines() if line.strip() and line not in old]
    text = " | ".join(fresh)
    return text if len(text) <= NEWS_MAX else text[: NEWS_MAX - 3] + "..."
