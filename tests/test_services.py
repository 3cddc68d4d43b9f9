"""The set-up scripts install real services, the fixtures run them, and the oTree watchdog restarts a hung server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from botex_core.processes import descendants
from tests.conftest import EXAMPLE_PROJECT
from tests.support.otree_service import HANG_REPORT_PATH, OtreeService
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


STUCK_OTREE = '''
import asyncio, sys, time, types
sys.modules["otree"] = types.ModuleType("otree")
middleware = sys.modules["otree.middleware"] = types.ModuleType("otree.middleware")
middleware.lock2 = asyncio.Lock()

async def serve():
    async with middleware.lock2:
        await asyncio.sleep(7)  # the report finds the running loop
        time.sleep(16)  # then the loop stops answering, with the lock held

asyncio.run(serve())
'''


def test_a_stuck_otree_server_reports_where_it_waits(tmp_path: Path) -> None:
    """The hang report loaded into the tests' oTree servers names the stuck loop, the lock and the stacks."""
    stuck = tmp_path / "otree"  # the report only wakes up in a program named otree
    stuck.write_text(STUCK_OTREE)
    result = subprocess.run([sys.executable, str(stuck)], env={**os.environ, "PYTHONPATH": HANG_REPORT_PATH},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "##### oTree hang report: event loop answers=False, lock2 held for" in result.stderr
    assert "coro=<serve() running" in result.stderr  # the asyncio task that holds the lock
    assert f'File "{stuck}", line 10 in serve' in result.stderr  # the thread stacks show the call that blocks the loop
