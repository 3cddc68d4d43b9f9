"""Counting browser processes, to prove that bots leave none behind.

Only the processes started by this test run's worker count (they inherit its
``PYTEST_XDIST_WORKER``), so that tests run side by side do not see each
other's browsers; a browser left behind keeps that variable after its parent died.
"""

from __future__ import annotations

import os

import psutil

_WORKER = "PYTEST_XDIST_WORKER"


def _ours(process: psutil.Process) -> bool:
    try:
        return process.environ().get(_WORKER) == os.environ.get(_WORKER)
    except psutil.Error:
        return False


def _live(name: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "status"]):
        if name in (process.info["name"] or "") and process.info["status"] != psutil.STATUS_ZOMBIE and _ours(process):
            found.append(process)
    return found


def browser_processes() -> list[str]:
    """PIDs of live chromium and chromedriver processes of this test run (exited zombies do not count)."""
    return sorted(str(process.pid) for process in _live("chrom"))


def browsers_and_drivers() -> tuple[set[str], set[str]]:
    """PIDs of live Chromium browsers (the processes chromedriver started, not their
    helpers) and of chromedriver processes, of this test run."""
    drivers = {process.pid for process in _live("chromedriver")}
    browsers = set()
    for process in _live("chromium"):
        try:
            if process.ppid() in drivers:
                browsers.add(process.pid)
        except psutil.Error:
            continue
    return {str(pid) for pid in browsers}, {str(pid) for pid in drivers}
