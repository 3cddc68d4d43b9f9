"""Plays every participant of a session over HTTP with plain valid answers, handing each new page to a visitor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botex_core.bot.http_driver import HttpDriver
from botex_core.bot.page import Page, Question, Widget


def valid_answers(page: Page) -> dict[str, Any]:
    """An answer to every question of ``page`` that oTree accepts: the least number, the first choice, a word."""
    answers: dict[str, Any] = {}
    for question in page.questions:
        answers[question.id] = _valid_answer(question)
    return answers


def _valid_answer(question: Question) -> Any:
    if question.widget in (Widget.RADIO, Widget.SELECT, Widget.BUTTON):
        return question.choices[0].value
    if question.widget == Widget.CHECKBOX:
        return True
    if question.widget in (Widget.INTEGER, Widget.FLOAT):
        low = question.min if question.min is not None else 0
        return int(low) if question.widget == Widget.INTEGER else low
    return "fine"


def walk(drivers: list[HttpDriver], urls: list[str], visit: Callable[[int, HttpDriver, Page], Page],
         timeout: float = 120) -> int:
    """Play the participants at ``urls`` to their last page, one step each in turn; return the pages visited.

    ``visit`` sees each new page of each participant and returns the page to go on from."""
    pages = [driver.open(url) for driver, url in zip(drivers, urls)]
    visited: set[tuple[int, str]] = set()
    deadline = time.monotonic() + timeout
    while not all(page.has_no_way_on for page in pages):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the participants did not reach the end: {[page.url for page in pages]}")
        for index, driver in enumerate(drivers):
            page = pages[index]
            if (index, page.url) not in visited:
                visited.add((index, page.url))
                page = pages[index] = visit(index, driver, page)
            if page.has_no_way_on:
                continue
            pages[index] = driver.wait() if page.is_wait_page else driver.submit(valid_answers(page))
    for index, driver in enumerate(drivers):  # the pages they ended on
        if (index, pages[index].url) not in visited:
            visited.add((index, pages[index].url))
            visit(index, driver, pages[index])
    return len(visited)
