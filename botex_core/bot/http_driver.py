"""A participant played over plain HTTP: oTree renders its pages and forms on the server.

The HTTP driver is the second :class:`~botex_core.bot.driver.Driver`: one
HTTP session per bot (pooled connections, cookies kept), each page read with a
real HTML parser into the same page model the browser produces, forms posted
as a browser posts them, and wait pages asked again with growing pauses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from lxml.html import HtmlElement
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from botex_core.bot.driver import WaitPolls
from botex_core.bot.html_page import form_submission, needs_javascript, parse_page, read_html
from botex_core.bot.page import Page
from botex_core.errors import BotexError, DriverError, OtreeUnreachableError

# Statuses of a server (or a proxy before it) that is down or overloaded for now.
_UNAVAILABLE = {502, 503, 504}
# The bots of a process share one pool of connections, so that a thousand bots
# thinking about their answers do not hold a thousand idle connections; when
# all are busy, a bot waits for one instead of opening (and dropping) another.
# A connection the server closed while idle is tried again, as browsers do; so
# is a form, which oTree never takes twice (it sends a participant who posts
# an old page on to the current one).
_SHARED_CONNECTIONS = HTTPAdapter(
    pool_connections=4, pool_maxsize=32, pool_block=True,
    max_retries=Retry(total=3, connect=3, read=2, status=0, allowed_methods={"GET", "POST"}, backoff_factor=0.1,
                      raise_on_status=False),
)


class HttpDriverError(DriverError):
    """A page could not be loaded or submitted over HTTP."""


class PageNeedsBrowserError(BotexError):
    """A page needs JavaScript, and the bot may not use a browser."""


class HttpDriver:
    """One bot's HTTP session with the oTree server (a :class:`~botex_core.bot.driver.Driver`).

    ``javascript_needed`` says why the current page needs a browser, if it does.
    With ``strict``, such a page stops the bot with a :class:`PageNeedsBrowserError`.
    """

    def __init__(self, session: requests.Session, page_timeout: float = 60.0, strict: bool = True) -> None:
        self._session = session
        self._page_timeout = page_timeout
        self._strict = strict
        self._polls = WaitPolls()
        self._url = ""
        self._html: HtmlElement | None = None
        self._page: Page | None = None
        self.javascript_needed: str | None = None

    def open(self, url: str) -> Page:
        """Load ``url`` (following oTree's redirects) and return the page it leads to."""
        return self._load("GET", url, f"cannot open {url}")

    def read(self) -> Page:
        """The current page, as it was last loaded."""
        if self._page is None:
            raise HttpDriverError("no page is open")
        return self._page

    def submit(self, answers: dict[str, Any]) -> Page:
        """Post the form with ``answers`` as a browser would and return the page that follows."""
        submission = form_submission(self._html, answers) if self._html is not None else None
        if submission is None:
            raise HttpDriverError("the page has no button to submit it")
        action, fields = submission
        before = self._url
        page = self._load("POST", urljoin(self._url, action or self._url), "cannot submit the page", fields)
        if page.url == before and not page.errors and not page.is_wait_page:
            self._needs_javascript("submitting it over HTTP neither moved on nor showed an error")
        return page

    def act(self, action_id: str, value: str | None = None) -> bool:
        """Interactive pages need a browser: the page's scripts act, not its HTML."""
        raise PageNeedsBrowserError(f"the page {self.read().name} needs a browser to act on it (use the driver auto or browser)")

    def watch(self, seconds: float, since: Page) -> Page:
        """Ask oTree again for the page after ``seconds``."""
        time.sleep(seconds)
        return self._load("GET", self._url, "cannot reload the page")

    def wait(self) -> Page:
        """On a wait page: pause, then ask oTree again for the page."""
        time.sleep(self._polls.pause())
        return self._load("GET", self._url, "cannot reload the page")

    def leave(self) -> None:
        """Nothing is left open on the server; the connections go with the session."""

    @property
    def url(self) -> str:
        """The address of the current page."""
        return self._url

    def _load(self, method: str, url: str, failure: str, fields: list[tuple[str, str]] | None = None) -> Page:
        try:
            response = self._session.request(method, url, data=fields, timeout=self._page_timeout,
                                             **_environment_settings(urlsplit(url)[:2]))
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise OtreeUnreachableError(f"the oTree server did not answer: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise HttpDriverError(f"{failure}: {type(exc).__name__}: {exc}") from None
        if response.status_code in _UNAVAILABLE:
            raise OtreeUnreachableError(f"the oTree server did not answer (HTTP {response.status_code})")
        if not response.ok:
            raise HttpDriverError(f"{failure}: HTTP {response.status_code}")
        self._url, self._html = response.url, read_html(response.text)
        self._page = self._polls.seen(parse_page(self._url, self._html))
        self.javascript_needed = None
        reason = needs_javascript(self._html)
        if reason is not None:
            self._needs_javascript(reason)
        return self._page

    def _needs_javascript(self, reason: str) -> None:
        self.javascript_needed = reason
        if self._strict:
            name = self._page.name if self._page is not None else self._url
            raise PageNeedsBrowserError(f"the page {name} needs a browser: {reason} (use the driver auto or browser)")


@contextmanager
def open_http_driver(page_timeout: float = 60.0, strict: bool = True) -> Iterator[HttpDriver]:
    """An HTTP driver with a session (cookies) of its own on the process's shared connections."""
    session = requests.Session()
    session.headers["User-Agent"] = "botex-fleet"
    # requests reads the proxy variables and the CA bundle from the environment again for every
    # request; _environment_settings reads them once per server and process instead.
    session.trust_env = False
    for scheme in ("http://", "https://"):
        session.mount(scheme, _SHARED_CONNECTIONS)
    yield HttpDriver(session, page_timeout, strict)


@lru_cache(maxsize=64)
def _environment_settings(origin: tuple[str, str]) -> dict[str, Any]:
    """What requests takes from the environment for a server (scheme, host and port): its proxies
    (none where ``no_proxy`` says so) and the CA bundle to verify it with."""
    scheme, netloc = origin
    found = requests.Session().merge_environment_settings(f"{scheme}://{netloc}/", {}, None, None, None)
    return {"proxies": found["proxies"], "verify": found["verify"]}
