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
    """PIDs of live Chromium browser processes (not their helpers) and of chromedriver processes."""
    listing = subprocess.run(["ps", "-eo", "pid=,stat=,comm=,args="], capture_output=True, text=True).stdout
    browsers, drivers = set(), set()
    for line in listing.splitlines():
        pid, state, command, args = (line.split(None, 3) + [""])[:4]
        if state.startswith("Z"):
            continue
        if command == "chromedriver":
            drivers.add(pid)
        elif command == "chromium" and "--type=" not in args:
            browsers.add(pid)
    return browsers, drivers
