"""A worker that stops on an error exits with Celery's code, not 0."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from botex_cli.main import cli
from botex_worker.app import app
from botex_worker.queues import DEFAULT_QUEUES


@pytest.mark.parametrize("code", [0, 1])
def test_the_worker_command_exits_with_the_workers_code(code: int, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(app, "start", lambda argv: started.append(argv) or code)
    result = CliRunner().invoke(cli, ["worker", "-n", "w@test"], env={"BOTEX_BROKER_URL": "redis://127.0.0.1:9/0"})
    assert result.exit_code == code
    assert started and started[0][:2] == ["worker", "-Q"]
    assert started[0][2].split(",") == list(DEFAULT_QUEUES), "without -Q every provider's queue"
