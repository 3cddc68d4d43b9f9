"""How often a driver asks again about a wait page."""

from __future__ import annotations

import pytest

from botex_core.bot.driver import LONGEST_WAIT_POLL_SECONDS, WaitPolls
from botex_core.bot.page import Page


def page(url: str) -> Page:
    return Page(url=url, title="Please wait", is_wait_page=True)


def test_pauses_grow_to_a_ceiling_and_start_afresh_on_a_new_page() -> None:
    polls = WaitPolls()
    polls.seen(page("http://otree/p/a/app/Wait/3"))
    pauses = [polls.pause() for _ in range(10)]
    assert pauses[:3] == pytest.approx([0.2, 0.3, 0.45])
    assert pauses == sorted(pauses) and pauses[-1] == LONGEST_WAIT_POLL_SECONDS
    polls.seen(page("http://otree/p/a/app/Wait/3"))
    assert polls.pause() == LONGEST_WAIT_POLL_SECONDS
    polls.seen(page("http://otree/p/a/app/Wait/5"))
    assert polls.pause() == pytest.approx(0.2)
