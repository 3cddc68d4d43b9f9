"""The two drivers read the same pages alike, and ``auto`` takes a browser only where a page needs JavaScript."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

import pytest

from botex_core.bot import driver as driver_module
from botex_core.bot.browser import open_browser
from botex_core.bot.http_driver import HttpDriver, open_http_driver
from botex_core.bot.page import Page
from botex_fleet import (
    init_otree_session,
    read_participants_from_botex_db,
    read_responses_from_botex_db,
    run_bots_on_session,
)
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.page_walk import walk
from tests.support.processes import browser_processes, browsers_and_drivers

pytestmark = pytest.mark.usefixtures("quick_bots")

INVALID_QUESTIONNAIRE = {"nickname": "n" * 40, "motivation": "", "age": 5, "expected_share": 3,
                         "likes_puzzles": "True", "favourite_colour": "Red", "risk_attitude": "1", "trust": "3"}


def comparable(page: Page) -> dict[str, Any]:
    """The page model with its text's whitespace collapsed (a browser breaks lines where HTML has none)."""
    model = page.model_dump()
    model["text"] = " ".join(model["text"].split())
    return model


@pytest.mark.parametrize(("config", "size", "pages_each"),
                         [("widgets_then_guess", 6, 4), ("contribution_pair", 2, 4), ("experimenter_paced", 1, 3)])
def test_both_drivers_read_every_page_of_the_example_apps_alike(
    otree_server: RunningOtree, sqlite_db: str, monkeypatch: pytest.MonkeyPatch, config: str, size: int,
    pages_each: int,
) -> None:
    monkeypatch.setattr(driver_module, "FIRST_WAIT_POLL_SECONDS", 0.05)
    urls = init_otree_session(config, size, botex_db=sqlite_db)["bot_urls"]
    differences: list[str] = []

    with ExitStack() as stack, open_browser(page_timeout=20) as browser:
        drivers = [stack.enter_context(open_http_driver()) for _ in urls]

        def compare(index: int, http: HttpDriver, page: Page) -> Page:
            for _ in range(3):  # a wait page may move on between the two reads
                in_browser = browser.open(page.url)
                page = http.open(page.url)
                if page.url == in_browser.url:
                    break
            if comparable(page) != comparable(in_browser):
                differences.append(f"{page.url}:\n  http    {comparable(page)}\n  browser {comparable(in_browser)}")
            return page

        pages = walk(drivers, urls, compare)
    assert not differences, "\n".join(differences)
    assert pages >= pages_each * size


def test_both_drivers_show_otree_errors_alike(otree_server: RunningOtree, sqlite_db: str) -> None:
    first, second = init_otree_session("widgets_pair", 2, botex_db=sqlite_db)["bot_urls"]
    with open_http_driver() as http, open_browser(page_timeout=20) as browser:
        pages = []
        for driver, url in ((http, first), (browser, second)):
            driver.open(url)
            assert driver.submit({}).name == "Questionnaire"
            pages.append(driver.submit(INVALID_QUESTIONNAIRE))
    over_http, in_browser = (comparable(page) | {"url": page.name} for page in pages)
    assert over_http == in_browser
    assert any(error.startswith("age: ") for error in over_http["errors"])
    assert any(error.startswith("nickname: ") for error in over_http["errors"])


def test_auto_plays_a_javascript_page_in_chromium_and_the_rest_over_http(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM
) -> None:
    session = init_otree_session("live_price", 1, botex_db=sqlite_db)
    run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/stand-in", api_key="sk-test",
                        api_base=fake_llm.api_base, driver="auto")
    [row] = read_participants_from_botex_db(session["session_id"], sqlite_db)
    assert row["status"] == "finished", row["status_reason"]
    assert row["driver"].startswith("browser from page Market: a live page")
    answers = {answer["question_id"] for answer in read_responses_from_botex_db(sqlite_db, session["session_id"])}
    assert answers == {"bid", "comment"}
    pages_read = [r["messages"][-1]["content"] for r in fake_llm.requests]
    # the next page shows what the script put into the hidden field, as oTree stored it
    assert any("at a price of 42 points" in prompt for prompt in pages_read)


def test_http_fails_a_bot_on_a_javascript_page_with_its_reason(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM
) -> None:
    session = init_otree_session("live_price", 1, botex_db=sqlite_db)
    before = browsers_and_drivers()
    run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/stand-in", api_key="sk-test",
                        api_base=fake_llm.api_base, driver="http")
    [row] = read_participants_from_botex_db(session["session_id"], sqlite_db)
    assert row["status"] == "failed"
    assert row["status_reason"] == ("the page Market needs a browser: a live page (it talks to the server with "
                                    "liveSend) (use the driver auto or browser)")
    assert browsers_and_drivers() == before


def test_auto_never_starts_chromium_for_pages_that_work_over_http(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM
) -> None:
    before = browser_processes()
    session = init_otree_session("widgets_pair", 2, botex_db=sqlite_db)
    [runner] = run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/stand-in",
                                   api_key="sk-test", api_base=fake_llm.api_base, driver="auto", wait=False)
    seen = []
    while runner.is_alive():
        seen.append(browser_processes())
        time.sleep(0.2)
    rows = read_participants_from_botex_db(session["session_id"], sqlite_db)
    assert [row["status"] for row in rows] == ["finished", "finished"]
    assert [row["driver"] for row in rows] == ["http", "http"]
    assert len(seen) > 5 and all(processes == before for processes in seen)
