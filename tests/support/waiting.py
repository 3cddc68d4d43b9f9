"""Waiting in tests for something that other processes do."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_for(condition: Callable[[], bool], timeout: float, message: str | Callable[[], str],
             poll: float = 0.3) -> None:
    """Return once ``condition()`` holds; fail the test with ``message`` (or what it returns, when it
    is a function: the state at the time of failure) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    pytest.fail(message() if callable(message) else message)
