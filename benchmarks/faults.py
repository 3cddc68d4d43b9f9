"""The fault suite: a fleet plays sessions while faults are injected one after another, and no person acts.

Real Redis (with its append-only file and a password), PostgreSQL, oTree,
Chromium, two worker processes and the stand-in LLM. For each fault a round of
sessions is submitted; once its bots are playing, the fault is injected, held,
and lifted. The round then has to finish by itself. Per fault it prints the
bots finished, the seconds from the end of the fault until every bot of the
round had ended, and the answers lost (in oTree's data but not in the store, or
the other way round) and stored twice, from the store compared field by field
with oTree's own export. Its last line sums up; it exits non-zero unless every
bot finished with nothing lost or stored twice.

Run with ``bash benchmarks/run.sh faults`` (``--quick``: shorter faults, one
session per round).
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.fault_proxy import FaultProxy  # noqa: E402
from tests.support.fleet import cli, submitted_sessions  # noqa: E402
from tests.support.services import PostgresCluster, RedisServer, free_port  # noqa: E402
from tests.support.workers import Workers  # noqa: E402

ROUND_TIMEOUT = 420.0


@dataclass
class Fleet:
    """Everything the suite runs, and the handles its faults need."""

    env: dict[str, str]
    redis: RedisServer
    workers: Workers
    llm: FakeLLM
    otree_proxy: FaultProxy
    store_proxy: FaultProxy
    spare: int = 0

    def replace_worker(self, name: str) -> str:
        """Kill ``name`` hard and start a new worker, as an orchestrator would; return the new name."""
        self.workers.kill(name)
        self.spare += 1
        new = f"spare{self.spare}"
        self.workers.start(new, concurrency=4, queues=None)
        return new


@dataclass
class Outcome:
    """What one fault round came to."""

    fault: str
    bots: int
    finished: int
    settle_seconds: float
    lost: int
    duplicated: int


def hold(seconds: float, lift: Callable[[], None]) -> Callable[[], None]:
    """Wait ``seconds``, then ``lift`` the fault."""
    def run() -> None:
        time.sleep(seconds)
        lift()
    return run


def faults(fleet: Fleet, quick: bool) -> list[tuple[str, Callable[[], None]]]:
    """The schedule: each entry injects a fault and returns once it is lifted."""
    outage = 10.0 if quick else 30.0
    storm = 20.0 if quick else 120.0
    names = ["one", "two"]

    def kill_worker() -> None:
        names[0] = fleet.replace_worker(names[0])

    def redis_restart(lose_data: bool) -> Callable[[], None]:
        return lambda: fleet.redis.restart(down_seconds=3, lose_data=lose_data)

    def cut(proxy: FaultProxy) -> Callable[[], None]:
        def run() -> None:
            proxy.cut()
            hold(outage, proxy.restore)()
        return run

    def llm_faults(kind: str, count: int, seconds: float) -> Callable[[], None]:
        def run() -> None:
            fleet.llm.inject(kind, times=count)
            hold(seconds, fleet.llm.clear_faults)()
        return run

    def kill_renderers() -> None:
        subprocess.run(["pkill", "-9", "-f", "chromium.*--type=renderer"], check=False)

    return [
        ("worker kill -9", kill_worker),
        ("Redis restart, AOF on", redis_restart(lose_data=False)),
        ("Redis restart, data lost", redis_restart(lose_data=True)),
        (f"PostgreSQL down {outage:.0f} s", cut(fleet.store_proxy)),
        (f"oTree down {outage:.0f} s", cut(fleet.otree_proxy)),
        (f"429 storm {storm:.0f} s", llm_faults("429", 100_000, storm)),
        ("LLM 500 errors", llm_faults("500", 12, 1.0 if quick else 20.0)),
        ("Chromium renderers killed", kill_renderers),
    ]


def play_round(fleet: Fleet, fault: str, inject: Callable[[], None], sessions: int) -> Outcome:
    """Submit, inject the fault once the bots play, and wait until every bot of the round has ended."""
    submitted = cli(fleet.env, "submit", "-s", "widgets_pair", "-p", "2", "--sessions", str(sessions),
                    "--model", "openai/stand-in", "--api-base", fleet.llm.api_base)
    if submitted.returncode != 0:
        raise RuntimeError(f"submit failed: {submitted.stderr}")
    codes = submitted_sessions(submitted)
    db = fleet.env["BOTEX_DB"]
    wait_until(lambda: answer_count(db, codes) >= 2, 120)
    inject()
    lifted = time.monotonic()
    wait_until(lambda: ended(db, codes), ROUND_TIMEOUT)
    settle = time.monotonic() - lifted
    rows = participants(db, codes)
    lost, duplicated = compare_with_otree(fleet.env, codes)
    return Outcome(fault, len(rows), sum(row["status"] == "finished" for row in rows), settle, lost, duplicated)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # noqa: BLE001 - the store may be the fault of the moment
            pass
        time.sleep(1)
    return False


def participants(db: str, codes: list[str]) -> list[dict]:
    import botex_fleet

    return [row for code in codes for row in botex_fleet.read_participants_from_botex_db(code, db)]


def answer_count(db: str, codes: list[str]) -> int:
    import botex_fleet

    return sum(len(botex_fleet.read_responses_from_botex_db(db, code)) for code in codes)


def ended(db: str, codes: list[str]) -> bool:
    return all(row["status"] in ("finished", "failed", "abandoned") for row in participants(db, codes))


def compare_with_otree(env: dict[str, str], codes: list[str]) -> tuple[int, int]:
    """Answers lost (a field oTree holds that the store lacks, or one stored that oTree lacks) and stored twice."""
    import botex_fleet
    from botex_core.otree.client import OtreeClient

    client = OtreeClient(env["OTREE_SERVER_URL"], env["OTREE_REST_KEY"])
    lost = duplicated = 0
    for code in codes:
        stored: dict[tuple[str, str, int, str], list[str]] = {}
        for answer in botex_fleet.read_responses_from_botex_db(env["BOTEX_DB"], code):
            key = (answer["participant_id"], answer["app"], int(answer["round"]), answer["question_id"])
            stored.setdefault(key, []).append(answer["answer"])
        duplicated += sum(len(values) - 1 for values in stored.values())
        in_otree = set()
        for row in csv.DictReader(io.StringIO(client.export_wide(code).decode())):
            for column, value in row.items():
                parts = column.split(".")
                if len(parts) == 4 and parts[2] == "player" and value not in ("", None):
                    in_otree.add((row["participant.code"], parts[0], int(parts[1]), parts[3]))
        fields = {key for key in in_otree if key[3] in {stored_key[3] for stored_key in stored}}
        lost += len(fields ^ set(stored))
    return lost, duplicated


def start_fleet(workspace: Path, latency: float) -> tuple[Fleet, list[Callable[[], None]]]:
    """Redis, PostgreSQL, oTree (behind a proxy), the stand-in LLM and two workers."""
    import botex_fleet

    stops: list[Callable[[], None]] = []
    redis = RedisServer.start(str(workspace), appendonly=True, password="faults-" + uuid.uuid4().hex[:8])
    stops.append(redis.stop)
    postgres = PostgresCluster.start()
    stops.append(postgres.stop)
    store_proxy = FaultProxy(postgres.port).start()
    database = postgres.create_database("faults").replace(f":{postgres.port}/", f":{store_proxy.port}/")
    project = workspace / "otree"
    shutil.copytree(REPO / "examples" / "otree", project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))
    rest_key = "faults-" + uuid.uuid4().hex[:8]
    otree = botex_fleet.start_otree_server(str(project), free_port(), str(workspace / "otree.log"), auth_level="STUDY",
                                           rest_key=rest_key, admin_password="faults", timeout=60)
    stops.append(lambda: botex_fleet.stop_otree_server(otree))
    otree_proxy = FaultProxy(urlparse(os.environ["OTREE_SERVER_URL"]).port).start()
    llm = FakeLLM(latency=latency).start()
    stops.append(llm.stop)
    env = {
        **os.environ, "BOTEX_BROKER_URL": redis.url, "BOTEX_DB": database, "BOTEX_LEASE_SECONDS": "10",
        "BOTEX_TASK_RETRY_SECONDS": "2", "BOTEX_WAIT_TIMEOUT": "600", "OPENAI_API_KEY": "sk-faults",
        "OTREE_SERVER_URL": f"http://127.0.0.1:{otree_proxy.port}", "OTREE_REST_KEY": rest_key,
    }
    workers = Workers(env, workspace)
    stops.append(workers.stop_all)
    for name in ("one", "two"):
        workers.start(name, concurrency=4, queues=None)
    for name in ("one", "two"):
        workers.wait_ready(name)
    return Fleet(env, redis, workers, llm, otree_proxy, store_proxy), stops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each fault once and short, one session per round")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sessions = 1 if arguments.quick else 2
    with tempfile.TemporaryDirectory(prefix="botex-faults-") as folder:
        fleet, stops = start_fleet(Path(folder), latency=1.0)
        outcomes = []
        try:
            for fault, inject in faults(fleet, arguments.quick):
                print(f"injecting: {fault} ...", flush=True)
                outcomes.append(play_round(fleet, fault, inject, sessions))
                outcome = outcomes[-1]
                print(f"  {outcome.finished}/{outcome.bots} bots finished, all ended {outcome.settle_seconds:.0f} s "
                      f"after the fault, answers lost {outcome.lost}, stored twice {outcome.duplicated}", flush=True)
        finally:
            for stop in reversed(stops):
                try:
                    stop()
                except Exception:  # noqa: BLE001 - stop what can be stopped
                    pass
    print_table(outcomes)
    return 0 if all(o.finished == o.bots and o.lost == o.duplicated == 0 for o in outcomes) else 1


def print_table(outcomes: list[Outcome]) -> None:
    print("\n| fault | bots finished | all ended after the fault | answers lost | stored twice |")
    print("| --- | --- | --- | --- | --- |")
    for o in outcomes:
        print(f"| {o.fault} | {o.finished}/{o.bots} | {o.settle_seconds:.0f} s | {o.lost} | {o.duplicated} |")
    finished = sum(o.finished for o in outcomes)
    total = sum(o.bots for o in outcomes)
    print(f"faults: {len(outcomes)} injected, bots {finished}/{total} finished, "
          f"answers lost {sum(o.lost for o in outcomes)}, duplicated {sum(o.duplicated for o in outcomes)}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
