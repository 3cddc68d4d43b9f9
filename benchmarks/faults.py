"""The fault suite: a fleet plays sessions while faults are injected one after another, and nobody steps in.

Real Redis (with its append-only file and a password), PostgreSQL, oTree,
two worker processes and the stand-in LLM. Bots play with the default driver
(over HTTP), and in Chromium in the round that kills Chromium's renderers.
The second worker runs
in a network namespace of its own, so that its network can be cut; the
services are reached over a bridge, oTree and PostgreSQL through a TCP proxy
that the suite cuts and restores. For each fault a round of sessions is
submitted; once its bots are playing, the fault is injected, held, and lifted.
The round then has to finish by itself. In the round that kills a worker while
it holds a bot that gave its slot back, each bot's partner is a human
participant, played by the suite over plain HTTP once the worker is dead: until
then the bots wait and give their slots back again and again. Per fault it
prints the bots finished, the seconds from the end of the fault until every bot
of the round was back in play (had ended, or made an LLM call after the fault)
and until all had ended, and the answers lost (in oTree's data but not in the store, or
the other way round) and stored twice, from the store compared field by field
with oTree's own export. After a short outage of the store, oTree or the LLM
provider every bot must be back in play within ``BACK_AFTER_OUTAGE_SECONDS``
of the service's return. Its last line sums up; it exits non-zero unless every
bot finished with nothing lost or stored twice, and in time.

Run with ``bash benchmarks/run.sh faults`` (``--quick``: shorter faults, one
session per round). It needs root, for the network namespace.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.fault_proxy import FaultProxy  # noqa: E402
from tests.support.fleet import cli, submitted_sessions  # noqa: E402
from tests.support.http_player import WIDGETS_PAIR_ANSWERS, play_session  # noqa: E402
from tests.support.netns import Network  # noqa: E402
from tests.support.services import PostgresCluster, RedisServer, free_port  # noqa: E402
from tests.support.workers import Workers  # noqa: E402

ROUND_TIMEOUT = 420.0
# After a short outage of a service (the store, oTree, the LLM provider), every bot is back within this long.
BACK_AFTER_OUTAGE_SECONDS = 15.0
NETWORK_SUBNET = 78
# The namespace of the worker whose network the suite cuts.
CUT_HOST = "worker"
LLM_TIMEOUT_SECONDS = 5
GIVE_BACK_SLOT_SECONDS = 3


@dataclass
class Fleet:
    """Everything the suite runs, and the handles its faults need."""

    env: dict[str, str]
    redis: RedisServer
    workers: Workers
    llm: FakeLLM
    otree_proxy: FaultProxy
    store_proxy: FaultProxy
    network: Network
    # Where each worker runs: the command prefix that puts it in its namespace.
    hosts: dict[str, Sequence[str]] = field(default_factory=dict)
    spare: int = 0

    def start_worker(self, name: str, prefix: Sequence[str] = ()) -> None:
        """A worker of 4 slots on the default queues, in the namespace of ``prefix``."""
        self.hosts[name] = prefix
        self.workers.start(name, concurrency=4, queues=None, prefix=prefix)

    def replace_worker(self, name: str) -> str:
        """Kill ``name`` hard and start a new worker where it ran, as an orchestrator would; return the new name."""
        self.workers.kill(name)
        self.spare += 1
        new = f"spare{self.spare}"
        self.start_worker(new, self.hosts.pop(name))
        return new

    @property
    def cut_worker(self) -> str:
        """The worker in the namespace whose network the suite cuts."""
        return next(name for name, prefix in self.hosts.items() if prefix)


@dataclass
class Outcome:
    """What one fault round came to."""

    fault: str
    bots: int
    finished: int
    back_in_play_seconds: float
    settle_seconds: float
    lost: int
    duplicated: int
    unfinished: list[str] = field(default_factory=list)
    back_within: float | None = None

    @property
    def healed(self) -> bool:
        """Every bot finished, nothing lost or stored twice, and back in play within the bound."""
        in_time = self.back_within is None or self.back_in_play_seconds <= self.back_within
        return self.finished == self.bots and self.lost == self.duplicated == 0 and in_time


def hold(seconds: float, lift: Callable[[], None]) -> Callable[[], None]:
    """Wait ``seconds``, then ``lift`` the fault."""
    def run() -> None:
        time.sleep(seconds)
        lift()
    return run


# A fault is injected into the round of the sessions given, and returns once it is lifted.
Fault = Callable[[list[str]], None]


@dataclass
class Scheduled:
    """A fault of the schedule and the sessions its round plays."""

    name: str
    inject: Fault
    sessions: int
    driver: str = "auto"
    # The most seconds from the service's return until every bot is back in play.
    back_within: float | None = None
    # Human participants per session, whose links the fault plays itself (see holder_of_a_given_back_bot).
    humans: int = 0


def faults(fleet: Fleet, quick: bool) -> list[Scheduled]:
    """The schedule, in the order the faults are injected."""
    sessions = 1 if quick else 2
    outage = 10.0 if quick else 30.0
    otree_outage = 20.0 if quick else 30.0
    storm = 20.0 if quick else 120.0
    host_worker = ["one"]

    def kill_worker(_: list[str]) -> None:
        host_worker[0] = fleet.replace_worker(host_worker[0])

    def kill_holder_of_a_given_back_bot(codes: list[str]) -> None:
        # Each bot waits for its human partner, who has not come yet: it gives its slot back every few
        # seconds until the humans play, after the kill.
        holder = wait_until(lambda: holder_of_a_given_back_bot(fleet, codes), 120, pause=0.2)
        if not holder:
            raise RuntimeError(f"no bot was caught while it had given its slot back: {round_report(fleet, codes)}")
        if holder == host_worker[0]:
            host_worker[0] = fleet.replace_worker(holder)
        else:
            fleet.replace_worker(holder)
        humans = [(row["url"], WIDGETS_PAIR_ANSWERS) for row in participants(fleet.env["BOTEX_DB"], codes, humans=True)]
        # The round goes on meanwhile; a human who cannot finish leaves a traceback and bots that do not end.
        threading.Thread(target=play_session, args=(humans, ROUND_TIMEOUT), daemon=True).start()

    def redis_restart(lose_data: bool) -> Fault:
        return lambda _: fleet.redis.restart(down_seconds=3, lose_data=lose_data)

    def cut(proxy: FaultProxy, seconds: float) -> Fault:
        def run(_: list[str]) -> None:
            proxy.cut()
            hold(seconds, proxy.restore)()
        return run

    def cut_worker_network(codes: list[str]) -> None:
        if not wait_until(lambda: leased_by(fleet, codes, fleet.cut_worker), 120):
            raise RuntimeError(f"{fleet.cut_worker} never ran a bot of the round")
        fleet.network.cut(CUT_HOST)
        hold(outage, lambda: fleet.network.restore(CUT_HOST))()

    def llm_faults(kind: str, count: int, held_for: float, **options: object) -> Fault:
        def run(_: list[str]) -> None:
            fleet.llm.inject(kind, times=count, **options)
            hold(held_for, fleet.llm.clear_faults)()
        return run

    def kill_renderers(_: list[str]) -> None:
        subprocess.run(["pkill", "-9", "-f", "chromium.*--type=renderer"], check=False)

    return [
        Scheduled("worker kill -9", kill_worker, sessions),
        Scheduled("worker kill -9 while a bot gave its slot back", kill_holder_of_a_given_back_bot, 2, humans=1),
        # more bots than the other worker takes at once: some run behind the cut
        Scheduled(f"worker network cut {outage:.0f} s", cut_worker_network, 3),
        Scheduled("Redis restart, AOF on", redis_restart(lose_data=False), sessions),
        Scheduled("Redis restart, data lost", redis_restart(lose_data=True), sessions),
        Scheduled(f"PostgreSQL down {outage:.0f} s", cut(fleet.store_proxy, outage), sessions,
                  back_within=BACK_AFTER_OUTAGE_SECONDS),
        Scheduled(f"oTree down {otree_outage:.0f} s", cut(fleet.otree_proxy, otree_outage), sessions,
                  back_within=BACK_AFTER_OUTAGE_SECONDS),
        Scheduled(f"429 storm {storm:.0f} s", llm_faults("429", 100_000, storm), sessions,
                  back_within=BACK_AFTER_OUTAGE_SECONDS),
        Scheduled("LLM 500 errors", llm_faults("500", 12, 1.0 if quick else 20.0), sessions),
        Scheduled(f"LLM timeouts (6; bots wait {LLM_TIMEOUT_SECONDS} s for a reply)",
                  llm_faults("timeout", 6, 1.0, seconds=LLM_TIMEOUT_SECONDS + 3), sessions),
        Scheduled("Chromium renderers killed", kill_renderers, sessions, driver="browser"),
    ]


def holder_of_a_given_back_bot(fleet: Fleet, codes: list[str]) -> str | None:
    """The worker that holds the message of a bot of ``codes`` that gave its slot back, if one does now."""
    from botex_worker.kombu_adapter import held_messages, member
    import redis

    queued = {member(code, row["participant_id"]) for code in codes for row in participants(fleet.env["BOTEX_DB"], [code])
              if row["status"] == "queued" and "gave its slot back" in (row["status_reason"] or "")}
    held = {message.bot: message.task_id for message in held_messages(redis.Redis.from_url(fleet.redis.url))}
    for bot in queued & set(held):
        received = re.compile(rf"Task bot {re.escape(bot)}\[{re.escape(held[bot])}\] received")
        for name in fleet.hosts:
            log = fleet.workers.log_folder / f"{name}.log"
            if log.exists() and received.search(log.read_text(errors="replace")):
                return name
    return None


def round_report(fleet: Fleet, codes: list[str]) -> str:
    """The round's bots with status and reason, and the lines where the workers said one gave its slot back."""
    rows = participants(fleet.env["BOTEX_DB"], codes)
    logs = "".join(log.read_text(errors="replace") for log in fleet.workers.log_folder.glob("*.log"))
    given_back = [line for line in logs.splitlines()
                  if "gave its slot back" in line and any(row["participant_id"] in line for row in rows)]
    bots = "; ".join(f"{row['participant_id']} {row['status']} ({row['status_reason']})" for row in rows)
    return f"the round's bots: {bots}; slots given back: {given_back or 'none'}"


def leased_by(fleet: Fleet, codes: list[str], worker: str) -> bool:
    """Whether ``worker`` runs a bot of ``codes`` that has answered something."""
    from sqlalchemy import text

    from botex_core.store import get_engine

    with get_engine(fleet.env["BOTEX_DB"]).connect() as connection:
        owned = connection.execute(text(
            "SELECT count(*) FROM participants p WHERE p.session_id = ANY(:codes) AND p.lease_owner LIKE :owner "
            "AND EXISTS (SELECT 1 FROM answers a WHERE a.session_id = p.session_id "
            "AND a.participant_id = p.participant_id)"), {"codes": codes, "owner": f"{worker}@%"}).scalar()
    return owned > 0


def play_round(fleet: Fleet, fault: Scheduled) -> Outcome:
    """Submit, inject the fault once the bots play, and wait until every bot of the round has ended."""
    submitted = cli(fleet.env, "submit", "-s", "widgets_pair", "-p", "2", "-n", str(fault.humans),
                    "--sessions", str(fault.sessions),
                    "--driver", fault.driver, "--model", "openai/stand-in", "--api-base", fleet.llm.api_base)
    if submitted.returncode != 0:
        raise RuntimeError(f"submit failed: {submitted.stderr}")
    codes = submitted_sessions(submitted)
    db = fleet.env["BOTEX_DB"]
    wait_until(lambda: answer_count(db, codes) >= 2, 120)
    fault.inject(codes)
    lifted, lifted_at = time.monotonic(), datetime.now(timezone.utc).replace(tzinfo=None)
    wait_until(lambda: back_in_play(db, codes, lifted_at), ROUND_TIMEOUT)
    back = time.monotonic() - lifted
    wait_until(lambda: ended(db, codes), ROUND_TIMEOUT)
    settle = time.monotonic() - lifted
    rows = participants(db, codes)
    lost, duplicated = compare_with_otree(fleet.env, codes)
    unfinished = [f"{row['participant_id']} {row['status']}: {row['status_reason']}" for row in rows
                  if row["status"] != "finished"]
    return Outcome(fault.name, len(rows), sum(row["status"] == "finished" for row in rows), back, settle, lost, duplicated,
                   unfinished, fault.back_within)


def wait_until(condition: Callable[[], object], timeout: float, pause: float = 0.5) -> object:
    """Poll ``condition`` until it returns something true (returned), or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := condition():
                return result
        except Exception:  # noqa: BLE001 - the store may be the fault of the moment
            pass
        time.sleep(pause)
    return None


def back_in_play(db: str, codes: list[str], since: datetime) -> bool:
    """Whether every bot of ``codes`` has ended or made an LLM call after ``since`` (UTC)."""
    from sqlalchemy import func, select

    from botex_core.store import BotStatus, session_scope
    from botex_core.store.models import LLMExchange, Participant

    with session_scope(db) as session:
        bots = session.execute(select(Participant.session_id, Participant.participant_id, Participant.status)
                               .where(Participant.session_id.in_(codes), Participant.is_human == 0)).all()
        latest = dict(session.execute(
            select(LLMExchange.participant_id, func.max(LLMExchange.created_at))
            .where(LLMExchange.session_id.in_(codes)).group_by(LLMExchange.participant_id)).all())
    return all(status in BotStatus.ended() or (latest.get(participant) or since) > since
               for _, participant, status in bots)


def participants(db: str, codes: list[str], humans: bool = False) -> list[dict]:
    """The bots of the sessions ``codes`` as the store has them (their human participants if ``humans``)."""
    import botex_fleet

    return [row for code in codes for row in botex_fleet.read_participants_from_botex_db(code, db)
            if bool(row["is_human"]) == humans]


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
    bots = {row["participant_id"] for row in participants(env["BOTEX_DB"], codes)}
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
                if (len(parts) == 4 and parts[2] == "player" and value not in ("", None)
                        and row["participant.code"] in bots):
                    in_otree.add((row["participant.code"], parts[0], int(parts[1]), parts[3]))
        fields = {key for key in in_otree if key[3] in {stored_key[3] for stored_key in stored}}
        lost += len(fields ^ set(stored))
    return lost, duplicated


def start_fleet(workspace: Path, latency: float, lease_seconds: float, stops: list[Callable[[], None]]) -> Fleet:
    """Redis, PostgreSQL, oTree (behind a proxy), the stand-in LLM, a worker here and one in a namespace;
    how to stop each goes to ``stops`` as soon as it runs (also when a later one fails to start)."""
    import botex_fleet
    network = Network(NETWORK_SUBNET)
    stops.append(network.close)
    network.add_host(CUT_HOST, 21)
    address = f"{network.prefix}.254"  # the bridge: this side of the network, reachable from the namespace
    redis = RedisServer.start(str(workspace), appendonly=True, password="faults-" + uuid.uuid4().hex[:8], host=address)
    stops.append(redis.stop)
    postgres = PostgresCluster.start()
    stops.append(postgres.stop)
    store_proxy = FaultProxy(postgres.port, host=address).start()
    database = postgres.create_database("faults").replace(f"127.0.0.1:{postgres.port}/", f"{address}:{store_proxy.port}/")
    project = workspace / "otree"
    shutil.copytree(REPO / "examples" / "otree", project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))
    rest_key = "faults-" + uuid.uuid4().hex[:8]
    otree = botex_fleet.start_otree_server(str(project), free_port(), str(workspace / "otree.log"), auth_level="STUDY",
                                           rest_key=rest_key, admin_password="faults", timeout=60)
    stops.append(lambda: botex_fleet.stop_otree_server(otree))
    otree_proxy = FaultProxy(urlparse(os.environ["OTREE_SERVER_URL"]).port, host=address).start()
    llm = FakeLLM(latency=latency, host=address).start()
    stops.append(llm.stop)
    env = {
        **os.environ, "BOTEX_BROKER_URL": redis.url, "BOTEX_DB": database, "BOTEX_LEASE_SECONDS": str(lease_seconds),
        "BOTEX_WAIT_TIMEOUT": "600", "OPENAI_API_KEY": "sk-faults",
        "BOTEX_LLM_TIMEOUT_SECONDS": str(LLM_TIMEOUT_SECONDS), "BOTEX_GIVE_BACK_SLOT_SECONDS": str(GIVE_BACK_SLOT_SECONDS),
        "OTREE_SERVER_URL": f"http://{address}:{otree_proxy.port}", "OTREE_REST_KEY": rest_key,
    }
    workers = Workers(env, workspace)
    stops.append(workers.stop_all)
    fleet = Fleet(env, redis, workers, llm, otree_proxy, store_proxy, network)
    fleet.start_worker("one")
    fleet.start_worker("two", network.run_in(CUT_HOST, []))
    for name in ("one", "two"):
        workers.wait_ready(name)
    return fleet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each fault once and short, one session per round")
    parser.add_argument("--only", default="", help="only the faults whose name holds this text (say 'down')")
    parser.add_argument("--lease", type=float, default=10.0,
                        help="BOTEX_LEASE_SECONDS of the workers (10: a killed worker's bots are back soon; "
                             "the fleet's default is 60)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="botex-faults-") as folder:
        stops: list[Callable[[], None]] = []
        outcomes = []
        try:
            fleet = start_fleet(Path(folder), 1.0, arguments.lease, stops)
            for fault in [f for f in faults(fleet, arguments.quick) if arguments.only in f.name]:
                print(f"injecting: {fault.name} ...", flush=True)
                outcomes.append(play_round(fleet, fault))
                outcome = outcomes[-1]
                print(f"  {outcome.finished}/{outcome.bots} bots finished, back in play {outcome.back_in_play_seconds:.0f} s "
                      f"and all ended {outcome.settle_seconds:.0f} s after the fault, answers lost {outcome.lost}, "
                      f"stored twice {outcome.duplicated}", flush=True)
                for bot in outcome.unfinished:
                    print(f"  not finished: {bot}", flush=True)
                if not outcome.healed and outcome.finished == outcome.bots:
                    print(f"  too slow: back in play {outcome.back_in_play_seconds:.0f} s after the service's return, "
                          f"more than {outcome.back_within:.0f} s", flush=True)
        finally:
            for stop in reversed(stops):
                try:
                    stop()
                except Exception:  # noqa: BLE001 - stop what can be stopped
                    pass
    print_table(outcomes)
    return 0 if all(outcome.healed for outcome in outcomes) else 1


def print_table(outcomes: list[Outcome]) -> None:
    print("\n| fault | bots finished | back in play after the fault | all ended after the fault | answers lost | stored twice |")
    print("| --- | --- | --- | --- | --- | --- |")
    for o in outcomes:
        bound = f" (at most {o.back_within:.0f} s)" if o.back_within is not None else ""
        print(f"| {o.fault} | {o.finished}/{o.bots} | {o.back_in_play_seconds:.0f} s{bound} | {o.settle_seconds:.0f} s "
              f"| {o.lost} | {o.duplicated} |")
    finished = sum(o.finished for o in outcomes)
    total = sum(o.bots for o in outcomes)
    print(f"faults: {len(outcomes)} injected, bots {finished}/{total} finished, "
          f"answers lost {sum(o.lost for o in outcomes)}, duplicated {sum(o.duplicated for o in outcomes)}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
