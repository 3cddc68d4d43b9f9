"""What the page loop asks of a driver, the part that shows a bot its pages.

A driver plays one participant: it opens the participant link, reads the
current page into the :class:`~botex_core.bot.page.Page` model, submits
answers (or presses the page's button), waits on wait pages and leaves. The
loop sees only this protocol; :func:`botex_core.bot.drivers.driver_for`
picks the implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from botex_core.bot.page import Page
from botex_core.errors import DriverError

__all__ = ["Driver", "DriverError", "OpenDriver", "WaitPolls"]

# A bot on a wait page asks oTree again after these pauses: soon at first, then
# less often, so that many waiting bots do not crowd the server.
FIRST_WAIT_POLL_SECONDS = 0.2
WAIT_POLL_GROWTH = 1.5
LONGEST_WAIT_POLL_SECONDS = 5.0


class Driver(Protocol):
    """One participant's view of the oTree server."""

    def open(self, url: str) -> Page:
        """Go to the participant link ``url`` and return the page it leads to."""

    def read(self) -> Page:
        """The current page."""

    def submit(self, answers: dict[str, Any]) -> Page:
        """Send ``answers`` (form values by field id; a button's name and value on
        pages without a next button) and return the page that follows: the same
        page with oTree's errors when it rejected them."""

    def act(self, action_id: str, value: str | None = None) -> bool:
        """On an interactive page: do one of its actions (typing ``value`` first where it takes one);
        False when the page no longer offers it."""

    def watch(self, seconds: float, since: Page) -> Page:
        """On an interactive page: look at it, without leaving it, until it shows something other
        than ``since`` or ``seconds`` pass; return what it shows then."""

    def wait(self) -> Page:
        """On a wait page: pause briefly and return the page then shown."""

    def leave(self) -> None:
        """Leave the participant's page cleanly; errors are ignored."""


class WaitPolls:
    """How long a driver pauses before it asks again about the wait page it shows."""

    def __init__(self) -> None:
        self._url: str | None = None
        self._polls = 0

    def seen(self, page: Page) -> Page:
        """Note the page now shown (a new page starts the pauses afresh) and return it."""
        if page.url != self._url:
            self._url, self._polls = page.url, 0
        return page

    def pause(self) -> float:
        """Seconds to pause before the next look at the current page."""
        pause = min(FIRST_WAIT_POLL_SECONDS * WAIT_POLL_GROWTH ** self._polls, LONGEST_WAIT_POLL_SECONDS)
        self._polls += 1
        return pause


# Opens a driver for one bot, given what to call when the driver switches to a
# browser (with a note of why); the driver is left when the block ends.
OpenDriver = Callable[[Callable[[str], None]], AbstractContextManager[Driver]]
