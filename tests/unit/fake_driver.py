"""A fake driver and a fake LLM for the page loop's unit tests: pages from a script, replies from the schema."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botex_core.bot.page import Action, ActionKind, Page, Question, Widget
from tests.support.fake_llm import instance_from_schema, live_action
from tests.unit.completions import reply

LINK = "http://otree.test/InitializeParticipant/bot1"


def page(name: str, index: int, *, next_button: bool = True, wait: bool = False,
         questions: list[Question] | None = None, errors: list[str] | None = None) -> Page:
    """An oTree page of the app ``game`` at page index ``index``."""
    return Page(url=f"http://otree.test/p/bot1/game/{name}/{index}", title=name, text=f"The page {name}.",
                questions=questions or [], has_next_button=next_button, is_wait_page=wait, errors=errors or [])


def live_page(name: str, index: int, text: str = "", actions: tuple[Action, ...] = (), next_button: bool = False,
              chat: bool = False) -> Page:
    """An interactive page of the app ``game``: live (or with a chat), with ``actions`` offered now."""
    return page(name, index, next_button=next_button).model_copy(update={
        "live": not chat, "chat": chat, "actions": list(actions), "text": text or f"The page {name}."})


def press(label: str, action_id: str = "a0") -> Action:
    """A button to press."""
    return Action(id=action_id, kind=ActionKind.PRESS, label=label)


def offer(low: float = 0, high: float = 100, action_id: str = "a1") -> Action:
    """A number to type, and a button that sends it."""
    return Action(id=action_id, kind=ActionKind.ENTER, label="Make offer", input_label="Your bid:", min=low, max=high,
                  numeric=True)


def number_question(field_id: str = "give") -> Question:
    """An integer field from 0 to 10."""
    return Question(id=field_id, widget=Widget.INTEGER, label="How many?", min=0, max=10)


@dataclass
class FakeDriver:
    """Shows ``pages`` one after the other: ``open`` the first, each ``submit`` and ``wait`` the next
    (the last page stays). A page listed in ``rejected`` comes back once more after its first submission."""

    pages: list[Page]
    wait_seconds: float = 0.01
    rejected: dict[str, Page] = field(default_factory=dict)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    acted: list[tuple[str, str | None]] = field(default_factory=list)
    waits: int = 0
    _at: int = 0

    def open(self, url: str) -> Page:
        return self.pages[self._at]

    def read(self) -> Page:
        return self.pages[self._at]

    def submit(self, answers: dict[str, Any]) -> Page:
        self.submitted.append(answers)
        rejection = self.rejected.pop(self.pages[self._at].url, None)
        return rejection if rejection is not None else self._next()

    def wait(self) -> Page:
        self.waits += 1
        time.sleep(self.wait_seconds)
        return self._next()

    def act(self, action_id: str, value: str | None = None) -> bool:
        self.acted.append((action_id, value))
        return True

    def watch(self, seconds: float, since: Page) -> Page:
        return self.wait()

    def leave(self) -> None:
        pass

    def _next(self) -> Page:
        self._at = min(self._at + 1, len(self.pages) - 1)
        return self.pages[self._at]

    def opener(self) -> Any:
        """What ``run_bot`` takes as ``open_driver``."""
        @contextmanager
        def open_driver(on_switch: Any) -> Iterator[FakeDriver]:
            yield self
        return open_driver


@dataclass
class SchemaCompletion:
    """Answers every request with a reply made from the schema it was sent (on an interactive page, an
    action chosen as the stand-in LLM's ``live_policy`` says), and counts them."""

    live_policy: str = "act"
    requests: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(3))

    def __call__(self, **request: Any) -> Any:
        self.requests.append(request)
        response_format = request["response_format"]
        schema = response_format.get("json_schema", {}).get("schema") or response_format["schema"]
        content = instance_from_schema(schema)
        if "action" in schema.get("properties", {}):
            content["action"] = live_action(schema, request["messages"][-1]["content"], self.live_policy, self.rng)
        return reply(content)
