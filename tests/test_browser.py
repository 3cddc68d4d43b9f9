"""The shared browser: the bots of a process use one Chromium, a tab each, and a dead one is replaced."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from botex_fleet import init_otree_session, read_participants_from_botex_db, run_bots_on_session
from botex_core.bot.browser import BrowserError, open_browser
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.processes import browser_processes, browsers_and_drivers

PAGE = b"<html><head><title>Plain</title></head><body><p>A page that is not oTree's.</p></body></html>"


@pytest.fixture
def page_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_bots_of_a_process_share_one_browser(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM
) -> None:
    fake_llm.latency = 0.2
    before = browsers_and_drivers()
    seen: list[tuple[set[str], set[str]]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            browsers, drivers = browsers_and_drivers()
            seen.append((browsers - before[0], drivers - before[1]))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        session = init_otree_session("contribution_pair", 4, botex_db=sqlite_db)
        run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/stand-in", api_key="sk-test",
                            api_base=fake_llm.api_base, driver="browser")
    finally:
        done.set()
        watcher.join()
    rows = read_participants_from_botex_db(session["session_id"], sqlite_db)
    assert [r["status"] for r in rows] == ["finished"] * 4
    assert max(len(browsers) for browsers, _ in seen) == 1
    assert max(len(drivers) for _, drivers in seen) == 1
    assert len(set().union(*(browsers for browsers, _ in seen))) == 1  # one browser for the whole run
    assert browsers_and_drivers() == before


SOCKETS_AFTER_A_SECOND = """
const done = arguments[arguments.length - 1];
const origin = window.location.origin.replace(/^http/, "ws");
const quietBefore = window.__botexQuietSockets;
const pushed = new WebSocket(origin + "/wait_page?session_pk=1&page_index=1&group_id_in_subsession=1");
const live = new WebSocket(origin + "/live?x=1");
setTimeout(() => done({
    pushed: pushed.readyState, quiet: window.__botexQuietSockets - quietBefore,
    live_is_real: Object.getPrototypeOf(live) === WebSocket.prototype,
}), 1000);
"""


def test_bot_tabs_open_no_wait_page_websockets(otree_server: RunningOtree, sqlite_db: str) -> None:
    """Wait pages are asked again, not pushed to: oTree 6 can stall when it pushes to a bot's socket."""
    session = init_otree_session("guess_two_thirds", 3, botex_db=sqlite_db)
    with open_browser(page_timeout=10) as browser:
        browser.open(session["bot_urls"][0])
        sockets = browser._chromium.run(browser._tab, lambda driver: driver.execute_async_script(SOCKETS_AFTER_A_SECOND))
    assert sockets == {"pushed": 0, "quiet": 1, "live_is_real": True}


def test_a_dead_browser_fails_its_tabs_and_is_replaced_for_new_ones(page_url: str) -> None:
    before = browser_processes()
    with open_browser(page_timeout=10) as first:
        assert first.open(page_url).title == "Plain"
        [browser] = browsers_and_drivers()[0] - set(before)
        os.kill(int(browser), signal.SIGKILL)
        with pytest.raises(BrowserError):
            first.read()
        with open_browser(page_timeout=10) as second:
            assert second.open(page_url).title == "Plain"
            assert browsers_and_drivers()[0] - set(before) != {browser}
    assert browser_processes() == before
