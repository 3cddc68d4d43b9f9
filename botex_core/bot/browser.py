"""The one module that drives Chromium: open a participant link, read pages, submit answers.

Everything else in the bot sees :class:`~botex_core.bot.page.Page` models only.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from botex_core.bot.page import Page
from botex_core.processes import descendants, reap

logger = logging.getLogger(__name__)

CHROMIUM_BINARY = os.environ.get("BOTEX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BOTEX_CHROMEDRIVER", "/usr/bin/chromedriver")
_HEADLESS_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--window-size=1280,1024",
)
_READ_PAGE = resources.files("botex_core.bot").joinpath("read_page.js").read_text()
_FILL_PAGE = resources.files("botex_core.bot").joinpath("fill_page.js").read_text()
_PAGE_GONE = "return window.__botexMarker === undefined && document.readyState === 'complete';"


class BrowserError(RuntimeError):
    """The browser could not load or drive a page."""


class Browser:
    """A headless Chromium that plays one participant at a time."""

    def __init__(self, driver: webdriver.Chrome, page_timeout: float = 60.0) -> None:
        self._driver = driver
        self._page_timeout = page_timeout

    def open(self, url: str) -> Page:
        """Load ``url`` and return the page it leads to."""
        try:
            self._driver.get(url)
        except WebDriverException as exc:
            raise BrowserError(f"cannot open {url}: {exc.msg or type(exc).__name__}") from None
        return self.read()

    def read(self) -> Page:
        """The current page."""
        try:
            data: dict[str, Any] = self._driver.execute_script(_READ_PAGE)
        except WebDriverException as exc:
            raise BrowserError(f"cannot read the page: {exc.msg or type(exc).__name__}") from None
        return Page.model_validate(data)

    def submit(self, answers: dict[str, Any]) -> Page:
        """Fill in ``answers`` (form values by field id), submit, and return the next page.

        When oTree rejects the answers, the same page comes back with its errors.
        """
        marker = uuid.uuid4().hex
        try:
            submitted = self._driver.execute_script(_FILL_PAGE, answers, marker)
        except JavascriptException as exc:
            raise BrowserError(f"cannot fill in the page: {exc.msg}") from None
        if not submitted:
            raise BrowserError("the page has no button to submit it")
        self._wait_for_new_document()
        return self.read()

    def refresh(self) -> Page:
        """Reload the current page (used on wait pages) and return it."""
        self._driver.refresh()
        return self.read()

    def _wait_for_new_document(self) -> None:
        deadline = time.monotonic() + self._page_timeout
        while time.monotonic() < deadline:
            try:
                if self._driver.execute_script(_PAGE_GONE):
                    return
            except WebDriverException:
                pass  # the old document is unloading
            time.sleep(0.05)
        raise BrowserError(f"the next page did not load within {self._page_timeout:.0f} s")


@contextmanager
def open_browser(page_timeout: float = 60.0) -> Iterator[Browser]:
    """A headless Debian Chromium, quit on every way out of the block."""
    options = Options()
    options.binary_location = CHROMIUM_BINARY
    for flag in _HEADLESS_FLAGS:
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        raise BrowserError(f"cannot start Chromium: {exc.msg or type(exc).__name__}") from None
    driver_pid = driver.service.process.pid
    try:
        driver.set_page_load_timeout(page_timeout)
        yield Browser(driver, page_timeout)
    finally:
        tree = [driver_pid, *descendants(driver_pid)]
        try:
            _leave_page(driver)
            driver.quit()
        finally:
            reap(tree)


def _leave_page(driver: webdriver.Chrome) -> None:
    """Navigate away first, so that the page closes its websocket to oTree with a
    proper close frame instead of dropping it when the renderer dies."""
    try:
        driver.set_page_load_timeout(5)
        driver.get("about:blank")
    except WebDriverException:
        pass
