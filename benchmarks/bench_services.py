"""The services a fleet benchmark runs against, started together and all stopped on the way out."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import botex_fleet
from benchmarks.example_otree import start_example_otree
from tests.support.fake_llm import FakeLLM
from tests.support.services import PostgresCluster, RedisServer


@dataclass
class Services:
    """Redis, PostgreSQL, the example oTree project (its URL in ``OTREE_SERVER_URL``) and the stand-in LLM."""

    workspace: Path
    redis: RedisServer
    postgres: PostgresCluster
    otree: subprocess.Popen
    llm: FakeLLM


@contextmanager
def fleet_services(prefix: str, latency: float) -> Iterator[Services]:
    """Start every service in a new workspace; stop them all when the block ends, however it ends."""
    workspace = Path(tempfile.mkdtemp(prefix=prefix))
    with ExitStack() as stops:
        redis = RedisServer.start(str(workspace))
        stops.callback(redis.stop)
        postgres = PostgresCluster.start()
        stops.callback(postgres.stop)
        otree, _ = start_example_otree(workspace)
        stops.callback(botex_fleet.stop_otree_server, otree)
        llm = FakeLLM(latency=latency).start()
        stops.callback(llm.stop)
        yield Services(workspace, redis, postgres, otree, llm)
