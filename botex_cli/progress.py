"""Showing how far a set of sessions is until their bots have ended."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
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


def fail_unless_all_finished(session_id: str, botex_db: str) -> None:
    """Stop the command with exit code 1 when a bot of the session did not finish."""
    progress = session_progress(session_id, botex_db)
    if progress.finished < progress.bots:
        raise click.ClickException(
            f"{progress.bots - progress.finished} of {progress.bots} bots did not finish; "
            f"see 'botex-cli status {session_id}'"
        )


def check_writable(path: Path, folder: bool) -> None:
    """Stop the command, before any work, when ``path`` (a folder, or a file) cannot be written."""
    if path.exists():
        if folder != path.is_dir():
            raise click.ClickException(f"cannot write {path}: it is {'a file' if folder else 'a folder'}")
        writable = os.access(path, os.W_OK)
    else:
        existing = path.parent
        while not existing.exists():
            existing = existing.parent
        writable = existing.is_dir() and os.access(existing, os.W_OK)
    if not writable:
        raise click.ClickException(f"cannot write {path}: no permission, or a file stands where a folder should be")
