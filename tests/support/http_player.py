"""Plays oTree participant pages over plain HTTP with fixed answers.

Used to fill real sessions of the example project with data, so that exports
and normalisation are checked on what oTree really writes.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping

import requests

WAIT_PAGE_MARKER = "otree-wait-page__body"
_SUBMIT_MARKERS = ("otree-btn-next", "<button name=")
# Valid answers to every form field of the example app widgets_pair.
WIDGETS_PAIR_ANSWERS = {
    "nickname": "Ann", "motivation": "Curious.", "age": "30", "expected_share": "0.5",
    "likes_puzzles": "True", "favourite_colour": "Red", "risk_attitude": "2", "trust": "3",
    "consent": "on", "cooperate": "True",
}


def play_participant(start_url: str, answers: Mapping[str, str], timeout: float = 60) -> list[str]:
    """Follow a participant link to the end, posting ``answers`` on each form page.

    Returns the names of the pages that were submitted.
    """
    http = requests.Session()
    deadline = time.monotonic() + timeout
    # A busy server (a thousand participants at once) may take long to answer one request.
    request_timeout = min(timeout, 120)
    response = http.get(start_url, timeout=request_timeout)
    submitted: list[str] = []
    while time.monotonic() < deadline:
        response.raise_for_status()
        page = response.text
        if WAIT_PAGE_MARKER in page:
            time.sleep(0.2)
            response = http.get(response.url, timeout=request_timeout)
            continue
        if not any(marker in page for marker in _SUBMIT_MARKERS):
            return submitted
        fields = set(re.findall(r'name="([a-z_0-9]+)"', page))
        form = {name: value for name, value in answers.items() if name in fields}
        submitted.append(response.url.rstrip("/").split("/")[-2])
        response = http.post(response.url, data=form, timeout=request_timeout)
    raise TimeoutError(f"participant {start_url} did not finish within {timeout} s")


def play_session(urls_and_answers: list[tuple[str, Mapping[str, str]]], timeout: float = 120) -> None:
    """Play every participant of a session at once (wait pages need all of them)."""
    errors: list[BaseException] = []

    def run(url: str, answers: Mapping[str, str]) -> None:
        try:
            play_participant(url, answers, timeout)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in urls_and_answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
