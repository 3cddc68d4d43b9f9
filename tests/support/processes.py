"""Counting browser processes, to prove that bots leave none behind."""

from __future__ import annotations

import subprocess


def browser_processes() -> list[str]:
    """PIDs of live chromium and chromedriver processes (exited zombies do not count)."""
    listing = subprocess.run(["ps", "-eo", "pid=,stat=,comm="], capture_output=True, text=True).stdout
    return [
        pid
        for pid, state, command in (line.split(None, 2) for line in listing.splitlines() if line.strip())
        if not state.startswith("Z") and ("chrom" in command)
    ]


def browsers_and_drivers() -> tuple[set[str], set[str]]:
    """PIDs of live Chromium browsers (the processes chromedriver started, not their
    helpers) and of chromedriver processes."""
    listing = subprocess.run(["ps", "-eo", "pid=,ppid=,stat=,comm="], capture_output=True, text=True).stdout
    rows = [line.split(None, 3) for line in listing.splitlines() if line.strip()]
    live = [(pid, parent, command) for pid, parent, state, command in rows if not state.startswith("Z")]
    drivers = {pid for pid, _, command in live if command == "chromedriver"}
    browsers = {pid for pid, parent, command in live if command == "chromium" and parent in drivers}
    return browsers, drivers
