"""Driving the fleet's command line from tests."""

from __future__ import annotations

import subprocess

from tests.support.workers import BOTEX_CLI, REPO


def cli(env: dict[str, str], *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run botex-cli; a run that times out comes back with code -1 and what it printed."""
    command = [BOTEX_CLI, *arguments]
    try:
        return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        return subprocess.CompletedProcess(command, -1, expired.stdout or "", f"timed out after {timeout} s\n{expired.stderr or ''}")


def submitted_sessions(result: subprocess.CompletedProcess) -> list[str]:
    """The session codes that ``botex-cli submit`` printed."""
    return [line.split()[1].rstrip(":") for line in result.stdout.splitlines() if line.startswith("session ")]
