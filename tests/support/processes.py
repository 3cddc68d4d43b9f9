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
