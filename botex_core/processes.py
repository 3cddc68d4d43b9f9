"""Child servers in their own process group: stopping them whole, and reading their logs."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable

import psutil

logger = logging.getLogger(__name__)

KILL_WAIT_SECONDS = 5.0


def stop_process_group(process: subprocess.Popen, first_signal: int, grace_seconds: float = 10.0) -> int | None:
    """Send ``first_signal`` to the process's group, wait, then kill what is left.

    Returns:
        The exit code of the process.
    """
    _stop_group(process.pid, first_signal, grace_seconds, lambda: process.poll() is not None)
    process.wait()
    return process.returncode


def stop_detached_group(group: int, first_signal: int, grace_seconds: float = 10.0) -> None:
    """Like :func:`stop_process_group` for a group whose leader is not our child (known by its pid)."""
    _stop_group(group, first_signal, grace_seconds, lambda: True)


def _stop_group(group: int, first_signal: int, grace_seconds: float, leader_reaped: Callable[[], bool]) -> None:
    _signal_group(group, first_signal)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if leader_reaped() and not group_alive(group):
            return
        time.sleep(0.1)
    logger.warning("process group %d did not stop within %.0f s; killing it", group, grace_seconds)
    _signal_group(group, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.1)


def group_alive(group: int) -> bool:
    """Whether any process of the process group ``group`` still runs."""
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == 0


def last_lines(path: str, count: int = 5) -> str:
    """The last non-empty lines of a log file, joined on one line."""
    try:
        with open(path, errors="replace") as log:
            return " | ".join(line.strip() for line in deque(log, maxlen=count) if line.strip())
    except OSError:
        return "(no log)"


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass


def descendants(pid: int) -> list[int]:
    """PIDs of every process below ``pid`` in the process tree."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def reap(pids: list[int], grace_seconds: float = 5.0) -> None:
    """Wait for ``pids`` to exit, then kill those still running (a zombie has exited)."""
    deadline = time.monotonic() + grace_seconds
    alive = [process for process in map(_process, pids) if process is not None]
    while alive and time.monotonic() < deadline:
        alive = [process for process in alive if _running(process)]
        if alive:
            time.sleep(0.05)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
