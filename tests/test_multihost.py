"""A fleet across hosts with real network separation: Redis, PostgreSQL, oTree and the stand-in LLM on one
host, two workers on two others, each host a network namespace with its own address. The bots of a session
finish across the hosts; then one worker's link is cut mid-run, and the other worker resumes its bots."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from botex_fleet import init_otree_session, read_participants_from_botex_db, read_responses_from_botex_db
from botex_core.store import dispose_engines, get_engine
from tests.conftest import EXAMPLE_PROJECT, REPO
from tests.support.netns import Network
from tests.support.otree_service import HANG_REPORT_PATH
from tests.support.waiting import wait_for
from tests.support.services import postgres_bin_dir

BIN = Path(sys.executable).parent
REST_KEY = "multihost-" + uuid.uuid4().hex[:8]
REDIS_PASSWORD = "redis-" + uuid.uuid4().hex[:8]
SERVICES, FIRST, SECOND = "services", "first", "second"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@dataclass
class Fleet:
    network: Network
    services_address: str
    env: dict[str, str]
    folder: Path
    processes: dict[str, subprocess.Popen]

    def start(self, name: str, host: str, command: list[str], **extra_env: str) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "w") as log:
            process = subprocess.Popen(self.network.run_in(host, command), env={**self.env, **extra_env},
                                       cwd=REPO, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def start_worker(self, name: str, host: str) -> None:
        # Four slots each: room for the partners a worker resumes without waiting for a slot given back.
        self.start(name, host, [str(BIN / "botex-cli"), "worker", "-Q", "botex.openai", "-c", "4",
                                "-n", f"{name}@{host}", "-l", "INFO"])

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def state(self) -> str:
        """What the fleet is doing, for a failure message: each worker's last lines and its threads' stacks
        (Celery prints them on SIGUSR1), the database sessions that wait or sit in a transaction, oTree's last lines."""
        workers = [name for name in self.processes if name in (FIRST, SECOND)]
        logged = {name: len(self.log(name)) for name in workers}
        exit_codes = {name: self.processes[name].poll() for name in workers}
        for name in workers:
            if exit_codes[name] is None:
                os.kill(self.processes[name].pid, signal.SIGUSR1)
        time.sleep(2)
        with get_engine(self.env["BOTEX_DB"]).connect() as connection:
            sessions = connection.execute(text(
                "SELECT pid, client_addr, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
                "WHERE datname = 'botex' AND (state <> 'idle' OR wait_event_type = 'Lock')")).all()
        parts = []
        for name in workers:
            log = self.log(name)
            stacks = re.sub(r"=+\nLOCAL VARIABLES\n=+\n.*?\n\n", "", log[logged[name]:], flags=re.S)
            alive = "running" if exit_codes[name] is None else f"ended with exit code {exit_codes[name]}"
            parts.append(f"--- {name} worker ({alive}):\n{log[:logged[name]][-3000:]}\n--- its threads:\n{stacks}")
        otree_log = (self.folder / "otree.log").read_text(errors="replace")
        return "\n".join([*parts, "--- database sessions:", *map(str, sessions), f"--- oTree:\n{otree_log[-3000:]}"])

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_http(url: str, timeout: float) -> None:
    import requests

    def answers() -> bool:
        try:
            return requests.get(url, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    wait_for(answers, timeout, f"{url} did not answer")


def start_postgres(fleet: Fleet) -> str:
    """A PostgreSQL cluster listening on the services host only; returns the botex database URL."""
    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="botex-pg-multihost-"))
    account = pwd.getpwnam("postgres")
    os.chown(root, account.pw_uid, account.pw_gid)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, f"{bin_dir}/initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    with open(root / "data" / "pg_hba.conf", "a") as rules:  # the other hosts of the test network
        rules.write(f"host all all {fleet.network.prefix}.0/24 trust\n")
    fleet.start("postgres", SERVICES, [*as_postgres, f"{bin_dir}/postgres", "-D", str(root / "data"), "-p", "5432",
                                       "-k", str(root), "-c", f"listen_addresses={fleet.services_address}", "-c", "fsync=off"])
    address = fleet.services_address
    wait_for(lambda: subprocess.run(fleet.network.run_in(SERVICES, [f"{bin_dir}/pg_isready", "-h", address, "-p", "5432"]),
                                      capture_output=True).returncode == 0, 60, "PostgreSQL did not start")
    with psycopg.connect(f"host={address} port=5432 user=postgres", autocommit=True) as connection:
        connection.execute("CREATE DATABASE botex")
    return f"postgresql+psycopg://postgres@{address}:5432/botex"


@pytest.fixture
def fleet(otree_executable: str, tmp_path: Path) -> Iterator[Fleet]:
    network = Network()
    processes: dict[str, subprocess.Popen] = {}
    try:
        address = network.add_host(SERVICES, 1)
        network.add_host(FIRST, 11)
        network.add_host(SECOND, 12)
        env = {**os.environ, "OTREE_SERVER_URL": f"http://{address}:8000", "OTREE_REST_KEY": REST_KEY,
               "BOTEX_BROKER_URL": f"redis://:{REDIS_PASSWORD}@{address}:6379/0", "BOTEX_LEASE_SECONDS": "5",
               "BOTEX_VISIBILITY_TIMEOUT": "25", "BOTEX_WAIT_TIMEOUT": "180", "BOTEX_LLM_BACKOFF_SECONDS": "0.2",
               "OPENAI_API_KEY": "sk-multihost-workers"}
        fleet = Fleet(network, address, env, tmp_path, processes)
        fleet.env["BOTEX_DB"] = start_postgres(fleet)
        fleet.start("redis", SERVICES, [shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", address,
                                        "--port", "6379", "--requirepass", REDIS_PASSWORD, "--save", "", "--appendonly", "no",
                                        "--dir", str(tmp_path)])
        project = tmp_path / "project"
        shutil.copytree(EXAMPLE_PROJECT, project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))
        otree_env = {"OTREE_AUTH_LEVEL": "STUDY", "OTREE_ADMIN_PASSWORD": "multihost-admin", "PYTHONPATH": HANG_REPORT_PATH,
                     "PATH": f"{Path(otree_executable).parent}{os.pathsep}{os.environ['PATH']}"}
        with open(tmp_path / "otree.log", "w") as log:
            processes["otree"] = subprocess.Popen(
                network.run_in(SERVICES, [otree_executable, "devserver", f"{address}:8000"]), cwd=project,
                env={**fleet.env, **otree_env}, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
        fleet.start("llm", SERVICES, [sys.executable, "-m", "tests.support.fake_llm", "--host", address,
                                      "--port", "9000", "--latency", "0.5"])
        wait_for_http(f"http://{address}:8000/api/otree_version", 60)
        wait_for_http(f"http://{address}:9000/_requests", 30)
        yield fleet
    finally:
        for name in list(processes):
            os.killpg(processes[name].pid, signal.SIGKILL)
            processes.pop(name).wait()
        dispose_engines()
        network.close()


def new_session(fleet: Fleet, participants: int) -> str:
    session = init_otree_session("widgets_pair", participants, botex_db=fleet.env["BOTEX_DB"],
                                 otree_server_url=fleet.env["OTREE_SERVER_URL"], otree_rest_key=REST_KEY)
    return session["session_id"]


def submit(fleet: Fleet, session: str) -> None:
    result = subprocess.run([str(BIN / "botex-cli"), "retry", session, "--model", "openai/stand-in",
                             "--api-base", f"http://{fleet.services_address}:9000/v1"],
                            env=fleet.env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def statuses(fleet: Fleet, session: str) -> list[str]:
    return [row["status"] for row in read_participants_from_botex_db(session, fleet.env["BOTEX_DB"])]


@pytest.mark.timeout(900)
def test_bots_finish_across_hosts_and_survive_a_cut_link(fleet: Fleet) -> None:
    fleet.start_worker("first", FIRST)
    fleet.start_worker("second", SECOND)
    wait_for(lambda: all(" ready." in fleet.log(worker) for worker in ("first", "second")), 60, "workers did not start")

    session = new_session(fleet, 8)  # more bots than one worker has slots
    submit(fleet, session)
    wait_for(lambda: statuses(fleet, session) == ["finished"] * 8, 240,
               f"the bots did not finish across the hosts:\n{fleet.log('first')[-2000:]}\n{fleet.log('second')[-2000:]}")
    for worker in ("first", "second"):
        assert f"Task bot {session}/" in fleet.log(worker) and "succeeded" in fleet.log(worker), f"{worker} ran no bot"

    session = new_session(fleet, 4)
    submit(fleet, session)

    def first_is_mid_bot() -> bool:
        with get_engine(fleet.env["BOTEX_DB"]).connect() as connection:
            owned = connection.execute(text(
                "SELECT count(*) FROM participants p WHERE p.session_id = :s AND p.lease_owner LIKE 'first@%' "
                "AND EXISTS (SELECT 1 FROM answers a WHERE a.session_id = p.session_id "
                "AND a.participant_id = p.participant_id)"), {"s": session}).scalar()
        return owned > 0

    wait_for(first_is_mid_bot, 120, "the first worker never had a bot half done")
    fleet.network.cut(FIRST)
    wait_for(lambda: statuses(fleet, session) == ["finished"] * 4, 300,
             lambda: f"the second worker did not finish the cut-off bots:\n{fleet.state()}")
    rows = read_participants_from_botex_db(session, fleet.env["BOTEX_DB"])
    assert any(row["attempts"] >= 2 for row in rows), "no bot was resumed"
    assert len(read_responses_from_botex_db(fleet.env["BOTEX_DB"], session)) == 4 * 10
    with get_engine(fleet.env["BOTEX_DB"]).connect() as connection:
        duplicates = connection.execute(text(
            "SELECT count(*) FROM (SELECT participant_id, question_id, round FROM answers WHERE session_id = :s "
            "GROUP BY participant_id, question_id, round HAVING count(*) > 1) d"), {"s": session}).scalar()
    assert duplicates == 0
