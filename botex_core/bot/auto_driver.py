"""The ``auto`` driver: plain HTTP, and a Chromium tab from the first page that needs JavaScript on.

A session whose pages all work over HTTP never starts Chromium. When a page
needs a browser (a live page, a form field filled in by a script, or a page
that a submission over HTTP neither moves on nor answers with an error), the
bot goes on in a tab from that page, and the switch is reported with its
reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from botex_core.bot.driver import Driver
from botex_core.bot.http_driver import HttpDriver, open_http_driver
from botex_core.bot.page import Page

logger = logging.getLogger(__name__)


class AutoDriver:
    """Plays over HTTP until a page needs a browser, then in a browser (a :class:`~botex_core.bot.driver.Driver`)."""

    def __init__(
        self, http: HttpDriver, open_browser: Callable[[], AbstractContextManager[Driver]], exits: ExitStack,
        on_switch: Callable[[str], None],
    ) -> None:
        self._http = http
        self._open_browser = open_browser
        self._exits = exits
        self._on_switch = on_switch
        self._browser: Driver | None = None

    def open(self, url: str) -> Page:
        """Load ``url`` over HTTP (in the browser once the bot has one) and return the page it leads to."""
        if self._browser is not None:
            return self._browser.open(url)
        return self._after_http(self._http.open(url))

    def read(self) -> Page:
        """The current page."""
        return (self._browser or self._http).read()

    def submit(self, answers: dict[str, Any]) -> Page:
        """Submit ``answers``; a page that needs a browser is submitted there."""
        if self._browser is not None:
            return self._browser.submit(answers)
        before = self._http.url
        page = self._http.submit(answers)
        if self._http.javascript_needed is None:
            return self._after_http(page)
        # The form did not go through: the browser shows the same page and submits it.
        self._switch(before, self._http.javascript_needed)
        return self._browser.submit(answers)  # type: ignore[union-attr]

    def act(self, action_id: str, value: str | None = None) -> bool:
        """Act on an interactive page, in the browser it is shown in."""
        return (self._browser or self._http).act(action_id, value)

    def watch(self, seconds: float, since: Page) -> Page:
        """Look at an interactive page, in the browser it is shown in."""
        if self._browser is not None:
            return self._browser.watch(seconds, since)
        return self._after_http(self._http.watch(seconds, since))

    def wait(self) -> Page:
        """On a wait page: ask again, over HTTP or in the browser."""
        if self._browser is not None:
            return self._browser.wait()
        return self._after_http(self._http.wait())

    def leave(self) -> None:
        """Leave the page in the browser, if the bot has one."""
        if self._browser is not None:
            self._browser.leave()

    def _after_http(self, page: Page) -> Page:
        if self._http.javascript_needed is None:
            return page
        return self._switch(page.url, self._http.javascript_needed)

    def _switch(self, url: str, reason: str) -> Page:
        page_name = self._http.read().name or url
        note = f"browser from page {page_name}: {reason}"
        logger.info("switching to a %s", note)
        self._on_switch(note)
        self._browser = self._exits.enter_context(self._open_browser())
        return self._browser.open(url)


@contextmanager
def open_auto_driver(
    open_browser: Callable[[], AbstractContextManager[Driver]], page_timeout: float = 60.0,
    on_switch: Callable[[str], None] = lambda note: None,
) -> Iterator[AutoDriver]:
    """An HTTP session, and a browser tab once a page needs one; both closed on every way out."""
    with ExitStack() as exits:
        http = exits.enter_context(open_http_driver(page_timeout, strict=False))
        yield AutoDriver(http, open_browser, exits, on_switch)
