"""Which driver a bot gets: the factory of the drivers, apart from the protocol they follow."""

from __future__ import annotations

from functools import partial

from botex_core.bot.auto_driver import open_auto_driver
from botex_core.bot.browser import open_browser
from botex_core.bot.driver import OpenDriver
from botex_core.bot.http_driver import open_http_driver
from botex_core.errors import ConfigurationError
from botex_core.settings import DRIVERS, BotexSettings


def driver_for(choice: str, settings: BotexSettings) -> OpenDriver:
    """How a bot opens its driver: ``http``, ``browser`` (a tab of this process's shared
    headless Chromium) or ``auto`` (HTTP, and a tab from the first page that needs one)."""
    browser = partial(open_browser, settings.chromium, settings.chromedriver)
    if choice == "browser":
        return lambda on_switch: browser()
    if choice == "http":
        return lambda on_switch: open_http_driver()
    if choice == "auto":
        return lambda on_switch: open_auto_driver(browser, on_switch=on_switch)
    raise ConfigurationError(f"unknown driver {choice!r}: use one of {', '.join(DRIVERS)}")
