"""Showing how far a set of sessions is until their bots have ended."""

from __future__ import annotations

import time

import click

from botex_core.progress import session_progress


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
            return all(p.by_status.get("finished", 0) == p.bots for p in states.values())
        time.sleep(interval)
