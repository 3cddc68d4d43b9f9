"""The set-up scripts install real services, the fixtures run them, and the oTree watchdog restarts a hung server."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from botex_core.processes import descendants
from tests.conftest import EXAMPLE_PROJECT
from tests.support.otree_service import OtreeService
from tests.support.services import PostgresCluster, RedisServer, free_port


def test_redis_fixture_serves_commands(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping()
    client.set("botex:test", "42")
    assert client.get("botex:test") == b"42"


def test_postgres_fixture_creates_separate_databases(postgres_cluster: PostgresCluster) -> None:
    first = create_engine(postgres_cluster.create_database("botex_services_a"))
    second = create_engine(postgres_cluster.create_database("botex_services_b"))
    with first.begin() as connection:
        connection.execute(text("CREATE TABLE marker (value integer)"))
    with second.connect() as connection:
        assert connection.execute(text("SELECT to_regclass('marker')")).scalar() is None
        assert connection.execute(text("SHOW server_version")).scalar()
    first.dispose()
    second.dispose()


def test_the_otree_watchdog_restarts_a_server_that_stopped_answering(otree_executable: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE_PROJECT, project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))
    service = OtreeService(otree_executable, project, free_port(), "watchdog-key", "watchdog-admin")
    service.start()
    try:
        inner = descendants(service._process.pid)
        assert inner, "devserver runs its server in a child process"
        for pid in inner:
            os.kill(pid, signal.SIGSTOP)
        assert not service.answers(timeout=3)
        with pytest.warns(UserWarning, match="oTree stopped answering before the-test"):
            service.restart_if_hung("the-test")
        assert service.answers() and service.restarts == 1
        assert "Current thread" in (tmp_path / "otree-hung-0.log").read_text()
        service.restart_if_hung("the-next-test")
        assert service.restarts == 1
    finally:
        service.stop()
