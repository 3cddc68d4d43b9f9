"""Fixtures that start the real parts: oTree, Redis and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from botex_core.store import dispose_engines
from tests.support.fake_llm import FakeLLM
from tests.support.otree_service import OtreeService
from tests.support.services import PostgresCluster, RedisServer, free_port

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PROJECT = REPO / "examples" / "otree"
REST_KEY = "test-rest-key-" + uuid.uuid4().hex[:8]
ADMIN_PASSWORD = "test-admin-" + uuid.uuid4().hex[:8]
OTREE_VARIABLES = ("OTREE_AUTH_LEVEL", "OTREE_REST_KEY", "OTREE_ADMIN_PASSWORD", "OTREE_SERVER_URL")


@dataclass
class RunningOtree:
    """An oTree server of the example project, in STUDY mode with a REST key."""

    url: str
    rest_key: str
    admin_password: str
    project: Path
    log_file: Path


@pytest.fixture(scope="session")
def otree_executable() -> str:
    """The `otree` of oTree's own virtual environment, created when missing."""
    configured = os.environ.get("OTREE_EXECUTABLE")
    if configured:
        return configured
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup-otree.sh")], check=True, capture_output=True, text=True
    )
    return result.stdout.strip().splitlines()[-1]


_otree_services: list[OtreeService] = []


@pytest.fixture(scope="session")
def otree_server(otree_executable: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOtree]:
    """The example project served by `otree devserver` on a free port."""
    project = tmp_path_factory.mktemp("otree") / "project"
    shutil.copytree(EXAMPLE_PROJECT, project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))
    saved = {name: os.environ.get(name) for name in OTREE_VARIABLES}
    service = OtreeService(otree_executable, project, free_port(), REST_KEY, ADMIN_PASSWORD)
    service.start()
    _otree_services.append(service)
    try:
        yield RunningOtree(service.url, REST_KEY, ADMIN_PASSWORD, project, service.log_file)
    finally:
        _otree_services.remove(service)
        service.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


UNIT_TESTS = Path(__file__).resolve().parent / "unit"
# Tests that load the machine for minutes or measure timing (a fleet of their own, a deployment in
# containers, the local model, the pinned scale run and the original botex's Chromium among the benchmarks'
# quick forms): run one after another on one test worker while the others share the rest
# (``pytest -n 2 --dist loadgroup``).
HEAVY = ("test_deploy_try.py", "test_fault_suite.py", "test_end_to_end.py", "test_multihost.py",
         "test_benchmarks_quick.py::test_the_scale_benchmark", "test_benchmarks_quick.py::test_the_comparison",
         "test_live_benchmark.py", "test_fleet.py::test_three_workers_hold_one_rate_limit")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist turns the groups into node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Two tiers: ``tests/unit`` runs the logic with fakes in seconds; every other test is ``system``
    (real oTree, Chromium, Redis, PostgreSQL, worker processes or the local model); the heavy ones
    share one test worker."""
    for item in items:
        if UNIT_TESTS not in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.system)
        if any(heavy in item.nodeid for heavy in HEAVY):
            item.add_marker(pytest.mark.xdist_group("heavy"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse to run heavy tests side by side: a pytest-xdist worker that did not group them
    (pytest-xdist#1386) would run two local models or fault suites at once."""
    if getattr(session.config.option, "loadgroup", False):
        ungrouped = [item.nodeid for item in session.items
                     if item.get_closest_marker("xdist_group") and not item.nodeid.endswith("@heavy")]
        if ungrouped:
            raise pytest.UsageError(f"pytest-xdist did not group the heavy tests (first: {ungrouped[0]}): "
                                    "install the pytest that pyproject.toml asks for")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a test that uses oTree (its fixtures included), make sure oTree still answers."""
    if "otree_server" in getattr(item, "fixturenames", ()):
        for service in _otree_services:
            service.restart_if_hung(item.nodeid)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis server without persistence on a free port."""
    server = RedisServer.start(str(tmp_path_factory.mktemp("redis")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster on a free port."""
    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        dispose_engines()
        cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def botex_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty botex database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        target = str(tmp_path / "botex.sqlite3")
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        target = cluster.create_database("botex_" + uuid.uuid4().hex[:12])
    yield target
    dispose_engines()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[str]:
    """An empty botex SQLite database file."""
    yield str(tmp_path / "botex.sqlite3")
    dispose_engines()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """The stand-in LLM server, answering from the schema it receives."""

    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def quick_bots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short backoff and wait-page limits, so that fault tests take seconds."""
    monkeypatch.setenv("BOTEX_LLM_BACKOFF_SECONDS", "0.05")
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "60")
    monkeypatch.setenv("BOTEX_LEASE_SECONDS", "3")


@pytest.fixture(scope="session")
def local_model_paths() -> tuple[str, str]:
    """llama-server and the SmolLM2 model file, built and installed when missing."""
    server, model = os.environ.get("LLAMACPP_SERVER_PATH"), os.environ.get("LLAMACPP_LOCAL_LLM_PATH")
    if not (server and model):
        result = subprocess.run(
            ["bash", str(REPO / "scripts" / "setup-llamacpp.sh")], check=True, capture_output=True, text=True
        )
        server, model = result.stdout.strip().splitlines()[-2:]
    return server, model


@pytest.fixture
def fleet_env(redis_server: RedisServer, postgres_cluster: PostgresCluster, otree_server: RunningOtree) -> dict[str, str]:
    database = postgres_cluster.create_database("fleet_" + uuid.uuid4().hex[:10])
    return {
        **os.environ,
        "BOTEX_BROKER_URL": redis_server.url,
        "BOTEX_DB": database,
        "BOTEX_LEASE_SECONDS": "4",
        "BOTEX_VISIBILITY_TIMEOUT": "15",
        "BOTEX_WAIT_TIMEOUT": "120",
        "BOTEX_LLM_BACKOFF_SECONDS": "0.05",
        "OPENAI_API_KEY": "sk-fleet-workers-own-key",
        "OTREE_SERVER_URL": otree_server.url,
        "OTREE_REST_KEY": otree_server.rest_key,
    }
