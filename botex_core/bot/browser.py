"""The browser driver: plays a participant in a tab of headless Chromium; the one module that drives it.

The bots of a process share one headless Chromium, each in a tab of its own:
a tab costs a renderer process, a browser costs many. WebDriver commands go
through one lock per browser, and the page load strategy is ``none``, so a
page loading in one tab never holds up the others: each bot waits for its own
pages. The browser quits when its last tab closes.

Everything else in the bot sees :class:`~botex_core.bot.page.Page` models only.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from urllib3.exceptions import HTTPError

from botex_core.bot.driver import WaitPolls
from botex_core.bot.page import Page
from botex_core.errors import DriverError, OtreeUnreachableError
from botex_core.processes import descendants, reap

logger = logging.getLogger(__name__)

CHROMIUM_BINARY = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
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
    # Every tab is a bot at work, none is in the background; tabs of one oTree
    # server share a renderer process.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--process-per-site",
)
_READ_PAGE = resources.files("botex_core.bot").joinpath("read_page.js").read_text()
_FILL_PAGE = resources.files("botex_core.bot").joinpath("fill_page.js").read_text()
_ACT = resources.files("botex_core.bot").joinpath("act.js").read_text()
# How often a bot looks at an interactive page for news while it watches it.
_LOOK_SECONDS = 0.25
_QUIET_WAIT_SOCKETS = resources.files("botex_core.bot").joinpath("quiet_wait_sockets.js").read_text()
_COUNT_CHANGES = resources.files("botex_core.bot").joinpath("count_changes.js").read_text()
# What a watching bot asks each time: where the tab is, how many changes its page saw, whether it loads.
_CHANGES = "return [window.location.href, window.__botexChanges || 0, document.readyState];"
_PAGE_GONE = "return window.__botexMarker === undefined && document.readyState !== 'loading';"
_NAVIGATE = "window.__botexMarker = arguments[1]; window.location.assign(arguments[0]);"
_RELOAD = "window.__botexMarker = arguments[0]; window.location.reload();"
_LEAVE_SECONDS = 5.0
# How chromedriver reports a tab whose renderer died.
_CRASHED = "crash"
# Where Chromium shows that a server did not answer.
_ERROR_PAGE = "chrome-error://"
T = TypeVar("T")


class BrowserError(DriverError):
    """The browser could not load or drive a page."""


class _Chromium:
    """One headless Chromium and its chromedriver, shared by the bots of a process, a tab each."""

    def __init__(self, chromium_binary: str, chromedriver: str) -> None:
        options = Options()
        options.binary_location = chromium_binary
        options.page_load_strategy = "none"
        for flag in _HEADLESS_FLAGS:
            options.add_argument(flag)
        try:
            self._driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        except WebDriverException as exc:
            raise BrowserError(f"cannot start Chromium: {exc.msg or type(exc).__name__}") from None
        self._driver_pid = self._driver.service.process.pid
        self._lock = threading.Lock()
        # The first window stays blank and open: new tabs are opened from it (a bot's tab
        # may be between two pages), and closing the last bot's tab leaves the browser running.
        self._home = self._current = self._driver.current_window_handle
        self._broken = False
        self.tabs = 0

    @property
    def alive(self) -> bool:
        """Whether chromedriver runs and the browser could open the last tab asked of it."""
        return not self._broken and self._driver.service.process.poll() is None

    def new_tab(self) -> str:
        """Open a blank tab and return its handle; a browser that cannot is marked dead."""
        with self._lock:
            try:
                self._driver.switch_to.window(self._home)
                self._driver.switch_to.new_window("tab")
                for script in (_QUIET_WAIT_SOCKETS, _COUNT_CHANGES):
                    self._driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
            except (WebDriverException, HTTPError, OSError) as exc:
                self._broken = True
                reason = f"cannot open a tab: {getattr(exc, 'msg', None) or type(exc).__name__}"
                logger.warning("%s; Chromium is replaced for the next tabs", reason)
                raise BrowserError(reason) from None
            self._current = self._driver.current_window_handle
            return self._current

    def run(self, tab: str, command: Callable[[webdriver.Chrome], T]) -> T:
        """Run ``command`` with the driver switched to ``tab``."""
        with self._lock:
            if self._current != tab:
                self._driver.switch_to.window(tab)
                self._current = tab
            return command(self._driver)

    def close_tab(self, tab: str) -> None:
        """Close ``tab``; errors are ignored (the tab or the browser may be gone)."""
        try:
            self.run(tab, lambda driver: driver.close())
        except (WebDriverException, HTTPError, OSError):
            pass

    def quit(self) -> None:
        """Quit the browser; no process of it is left behind."""
        tree = [self._driver_pid, *descendants(self._driver_pid)]
        try:
            self._driver.quit()
        except (WebDriverException, HTTPError, OSError):
            pass
        finally:
            reap(tree)


class Browser:
    """One bot's tab: it plays one participant (a :class:`~botex_core.bot.driver.Driver`)."""

    def __init__(self, chromium: _Chromium, tab: str, page_timeout: float = 60.0) -> None:
        self._chromium = chromium
        self._tab = tab
        self._page_timeout = page_timeout
        self._polls = WaitPolls()

    def open(self, url: str) -> Page:
        """Load ``url`` and return the page it leads to."""
        self._navigate(_NAVIGATE, url, f"cannot open {url}")
        return self._polls.seen(self.read())

    def read(self) -> Page:
        """The current page, once it has loaded."""
        deadline = time.monotonic() + self._page_timeout
        while True:
            data: dict[str, Any] | None = self._execute_or_fail("cannot read the page", _READ_PAGE)
            if data is not None:
                page = Page.model_validate(data)
                if page.url.startswith(_ERROR_PAGE):
                    raise OtreeUnreachableError(f"the oTree server did not answer ({page.title or page.url})")
                return page
            if time.monotonic() > deadline:
                raise BrowserError(f"the page did not finish loading within {self._page_timeout:.0f} s")
            time.sleep(0.05)

    def submit(self, answers: dict[str, Any]) -> Page:
        """Fill in ``answers`` (form values by field id), submit, and return the next page.

        When oTree rejects the answers, the same page comes back with its errors.
        """
        submitted = self._execute_or_fail("cannot fill in the page", _FILL_PAGE, answers, uuid.uuid4().hex)
        if not submitted:
            raise BrowserError("the page has no button to submit it")
        self._wait_for_new_document(self._page_timeout)
        return self._polls.seen(self.read())

    def act(self, action_id: str, value: str | None = None) -> bool:
        """Do the action ``action_id`` of the current interactive page (typing ``value`` first where it
        takes one); False when the page no longer offers it."""
        return bool(self._execute_or_fail("cannot act on the page", _ACT, action_id, value, uuid.uuid4().hex))

    def watch(self, seconds: float, since: Page) -> Page:
        """Look at the open page, without reloading it, until it shows something other than ``since``
        (news from the server, another participant's move, another page) or ``seconds`` pass.

        Each look asks only how many visible changes the page saw (``count_changes.js``); the page
        is read whole once that number moves, or at the end."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            url, changes, state = self._execute_or_fail("cannot look at the page", _CHANGES)
            if url != since.url or changes != since.revision or state == "loading":
                break
            time.sleep(_LOOK_SECONDS)
        return self._polls.seen(self.read())

    def wait(self) -> Page:
        """On a wait page: pause, then reload the page and return what oTree shows now."""
        time.sleep(self._polls.pause())
        self._navigate(_RELOAD, None, "cannot reload the page")
        return self._polls.seen(self.read())

    def leave(self) -> None:
        """Navigate away, so that the page closes its websocket to oTree with a proper
        close frame instead of dropping it when the tab closes."""
        try:
            self._execute(_NAVIGATE, "about:blank", "leaving")
            self._wait_for_new_document(_LEAVE_SECONDS)
        except (WebDriverException, BrowserError):
            pass

    def _navigate(self, script: str, url: str | None, failure: str) -> None:
        arguments = (url, uuid.uuid4().hex) if url else (uuid.uuid4().hex,)
        self._execute_or_fail(failure, script, *arguments)
        self._wait_for_new_document(self._page_timeout)

    def _execute_or_fail(self, failure: str, script: str, *arguments: Any) -> Any:
        """Run ``script`` in the tab; what goes wrong is a :class:`BrowserError` starting with ``failure``."""
        try:
            return self._execute(script, *arguments)
        except WebDriverException as exc:
            raise BrowserError(f"{failure}: {exc.msg or type(exc).__name__}") from None

    def _execute(self, script: str, *arguments: Any) -> Any:
        """Run ``script`` in the tab; WebDriver errors pass through, a lost chromedriver is a BrowserError."""
        try:
            return self._chromium.run(self._tab, lambda driver: driver.execute_script(script, *arguments))
        except (HTTPError, OSError) as exc:
            raise BrowserError(f"lost the connection to chromedriver: {type(exc).__name__}") from None

    def _wait_for_new_document(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._execute(_PAGE_GONE):
                    return
            except WebDriverException as exc:
                if _CRASHED in (exc.msg or ""):
                    raise BrowserError(f"the tab crashed: {exc.msg}") from None
                # otherwise the old document is unloading
            time.sleep(0.05)
        raise BrowserError(f"the next page did not load within {timeout:.0f} s")


_shared: _Chromium | None = None
_shared_lock = threading.Lock()


@contextmanager
def open_browser(
    chromium_binary: str = CHROMIUM_BINARY, chromedriver: str = CHROMEDRIVER, page_timeout: float = 60.0
) -> Iterator[Browser]:
    """A tab of this process's headless Chromium, closed on every way out of the block.

    The browser starts with the first tab and quits when its last tab closes; a
    browser that died is replaced for the tabs opened after.
    """
    try:
        chromium, tab = _new_tab(chromium_binary, chromedriver)
    except BrowserError:
        # the shared browser had died: this one is new
        chromium, tab = _new_tab(chromium_binary, chromedriver)
    browser = Browser(chromium, tab, page_timeout)
    try:
        yield browser
    finally:
        browser.leave()
        chromium.close_tab(tab)
        _release(chromium)


def _new_tab(chromium_binary: str, chromedriver: str) -> tuple[_Chromium, str]:
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            _shared = _Chromium(chromium_binary, chromedriver)
        chromium = _shared
        chromium.tabs += 1
    try:
        return chromium, chromium.new_tab()
    except BrowserError:
        _release(chromium)
        raise


def _release(chromium: _Chromium) -> None:
    """One tab less; the browser quits with its last tab."""
    global _shared
    with _shared_lock:
        chromium.tabs -= 1
        last = chromium.tabs == 0
        if last and _shared is chromium:
            _shared = None
    if last:
        chromium.quit()
