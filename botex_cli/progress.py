"""Showing how far a set of sessions is until their bots have ended."""

from __future__ import annotations

import threading
import time
from typing import Any

import click

from botex_core.progress import report_progress, session_progress


def follow(session_ids: list[str], botex_db: str, interval: float = 2.0) -> bool:
    """Print a progress line per session whenever it changes; True when every bot finished."""
    last: dict[str, str] = {}
    while True:
        states = {code: session_progress(code, botex_db) for code in session_ids}
        for code, progress in states.items():
            line = progress.line()
            if last.get(code) != line:
                click.echo(f"{code}: {line}", err=True)
                last[code] = line
        if all(p.done == p.bots for p in states.values()):
            return all(p.finished == p.bots for p in states.values())
        time.sleep(interval)


def run_bots_with_progress(session_id: str, botex_db: str, **bot_settings: Any) -> None:
    """Run the session's bots (embedded, or on the fleet when a broker is set) and print progress lines."""
    import botex_fleet

    finished = threading.Event()
    reporter = threading.Thread(
        target=report_progress, args=(session_id, botex_db, finished, lambda line: click.echo(line, err=True))
    )
    reporter.start()
    try:
        botex_fleet.run_bots_on_session(session_id, botex_db=botex_db, **bot_settings)
    finally:
        finished.set()
        reporter.join()
