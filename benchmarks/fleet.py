"""The fleet's own costs: enqueueing, the delay before a bot starts, and bots per minute as workers are added.

Real Redis, PostgreSQL, oTree, Chromium and worker processes; the stand-in LLM
answers after a fixed latency. Baselines measured in the same run:

- enqueue: the same number of plain Celery messages of the same size (what the
  broker and Celery cost without botex);
- start delay: a no-op Celery task on the same idle worker;
- bots per minute: the ideal, slots x 60 / (LLM calls per bot x latency),
  that is, a fleet whose only cost is waiting for the LLM.

Run with ``bash benchmarks/run.sh fleet``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from botex_worker.submission import Submission  # noqa: E402
from tests.support.workers import QUEUE, Workers  # noqa: E402

WORKER_CONCURRENCY = 2
# The bots of the measurements go to the queue the benchmark's workers take.
ON_QUEUE = Submission(embedded=False, queue=QUEUE)


def configure(redis_url: str, botex_db: str) -> None:
    os.environ.update({
        "BOTEX_BROKER_URL": redis_url, "BOTEX_DB": botex_db, "OPENAI_API_KEY": "sk-bench",
        "BOTEX_LEASE_SECONDS": "20", "BOTEX_VISIBILITY_TIMEOUT": "3600",
    })
    from botex_worker.app import configure_app

    configure_app()


def enqueue_seconds(count: int) -> tuple[float, float]:
    """Seconds to enqueue ``count`` bots, and to send as many plain Celery messages of the same size."""
    from botex_core.store import ledger
    from botex_core.store.ledger import NewParticipant
    from botex_worker.app import app
    from botex_worker.dispatch import enqueue, session_bots
    from botex_worker.message import BotMessage

    urls = [f"http://otree.invalid/InitializeParticipant/b{number:07d}" for number in range(count)]
    # The participants a session of that many would have added (queueing needs them in the store).
    ledger.add_participants([NewParticipant("bench", "enqbench", url.rsplit("/", 1)[1], False, url, number)
                             for number, url in enumerate(urls, start=1)], os.environ["BOTEX_DB"])
    started = time.perf_counter()
    submission = Submission(embedded=False, queue="bench.enqueue")
    bots = session_bots("enqbench", os.environ["BOTEX_DB"], submission, bot_urls=urls, model="openai/stand-in")
    enqueue(bots, os.environ["BOTEX_DB"], submission)
    ours = time.perf_counter() - started
    payload = BotMessage.of(bots[0], "bench.plain").task_argument()
    started = time.perf_counter()
    for _ in range(count):
        app.send_task("bench.noop", args=[payload], queue="bench.plain")
    plain = time.perf_counter() - started
    with app.connection_for_write() as connection:
        for queue in ("bench.enqueue", "bench.plain"):
            connection.default_channel.queue_purge(queue)
    return ours, plain


def start_workers(workers: Workers, count: int) -> None:
    """Start ``count`` workers of WORKER_CONCURRENCY bots and wait until they all answer a ping."""
    from botex_worker.app import app

    for number in range(count):
        workers.start(f"bench{number}", concurrency=WORKER_CONCURRENCY)
    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=1.0)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"workers did not start:\n{workers.logs()}")


def start_delays(sessions: int, api_base: str) -> tuple[list[float], list[float]]:
    """Seconds from enqueue to the bot's start (one session of 2 bots at a time), and for a no-op task."""
    import botex_fleet
    from botex_core.store import Participant, session_scope
    from botex_worker.app import app
    from botex_worker.dispatch import enqueue, session_bots, wait_until_ended

    ours: list[float] = []
    for _ in range(sessions):
        created = botex_fleet.init_otree_session("widgets_pair", 2, botex_db=os.environ["BOTEX_DB"])
        bots = session_bots(created["session_id"], os.environ["BOTEX_DB"], ON_QUEUE, model="openai/stand-in",
                            api_base=api_base)
        sent = datetime.now(timezone.utc).replace(tzinfo=None)
        enqueue(bots, os.environ["BOTEX_DB"], ON_QUEUE)
        wait_until_ended(bots, os.environ["BOTEX_DB"])
        with session_scope(os.environ["BOTEX_DB"]) as store:
            for bot in bots:
                ours.append((store.get(Participant, (bot.session_id, bot.participant_id)).time_in - sent).total_seconds())
    plain: list[float] = []
    for _ in range(sessions * 2):
        sent = datetime.now(timezone.utc)
        result = app.send_task("celery.accumulate", args=[1], queue=QUEUE)
        result.get(timeout=30)
        plain.append((result.date_done.replace(tzinfo=timezone.utc) - sent).total_seconds())
    return ours, plain


def bots_per_minute(workers: Workers, count: int, bots: int, api_base: str, latency: float) -> tuple[float, float, int]:
    """Bots finished per minute with ``count`` workers; the ideal; LLM calls per bot."""
    import botex_fleet
    from botex_core.progress import session_progress
    from botex_worker.dispatch import enqueue, session_bots, wait_until_ended

    start_workers(workers, count)
    try:
        sessions = [botex_fleet.init_otree_session("widgets_pair", 2, botex_db=os.environ["BOTEX_DB"]) for _ in range(bots // 2)]
        everyone = [bot for created in sessions for bot in session_bots(
            created["session_id"], os.environ["BOTEX_DB"], ON_QUEUE, model="openai/stand-in", api_base=api_base)]
        started = time.monotonic()
        enqueue(everyone, os.environ["BOTEX_DB"], ON_QUEUE)
        wait_until_ended(everyone, os.environ["BOTEX_DB"])
        minutes = (time.monotonic() - started) / 60
    finally:
        workers.stop_all()
    progress = [session_progress(created["session_id"], os.environ["BOTEX_DB"]) for created in sessions]
    finished = sum(p.finished for p in progress)
    if finished < bots:
        raise SystemExit(f"only {finished} of {bots} bots finished: {[p.by_status for p in progress]}")
    calls_per_bot = round(sum(p.llm_calls for p in progress) / bots)
    ideal = count * WORKER_CONCURRENCY * 60 / (calls_per_bot * latency)
    return finished / minutes, ideal, calls_per_bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enqueue", type=int, default=10_000, help="bots to enqueue")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per stand-in LLM call")
    parser.add_argument("--bots-per-slot", type=int, default=2, help="bots per worker slot in the throughput runs")
    parser.add_argument("--workers", default="1,2,4", help="worker counts for the throughput runs")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from benchmarks.bench_services import fleet_services

    rows: list[tuple[str, float, float, str]] = []
    with fleet_services("botex-fleet-bench-", arguments.latency) as services:
        workers = Workers(os.environ, services.workspace)  # read when each worker starts, after configure()
        llm = services.llm
        try:
            configure(services.redis.url, services.postgres.create_database("fleet_bench"))
            ours, plain = enqueue_seconds(arguments.enqueue)
            rows.append((f"enqueue {arguments.enqueue} bots (s)", ours, plain, "plain Celery messages"))
            print(f"enqueue: {ours:.1f} s for {arguments.enqueue} bots, {plain:.1f} s for plain messages", flush=True)

            start_workers(workers, 1)
            try:
                delays, plain_delays = start_delays(3, llm.api_base)
            finally:
                workers.stop_all()
            rows.append(("enqueue to start, median (s)", statistics.median(delays), statistics.median(plain_delays),
                         "no-op Celery task"))
            print(f"start delay: median {statistics.median(delays):.3f} s (no-op task "
                  f"{statistics.median(plain_delays):.3f} s)", flush=True)

            for count in (int(n) for n in arguments.workers.split(",")):
                bots = count * WORKER_CONCURRENCY * arguments.bots_per_slot
                rate, ideal, calls = bots_per_minute(workers, count, bots, llm.api_base, arguments.latency)
                rows.append((f"bots/min, {count} worker(s) x {WORKER_CONCURRENCY}, {bots} bots", rate, ideal,
                             f"ideal ({calls} calls x {arguments.latency:g} s)"))
                print(f"{count} worker(s): {rate:.1f} bots/min, ideal {ideal:.1f}", flush=True)
        finally:
            workers.stop_all()
    print(f"\nfleet on this machine ({os.cpu_count()} cores), stand-in LLM at {arguments.latency:g} s per call")
    print(f"{'measure':<46} {'value':>9} {'baseline':>9} {'ratio':>6}  baseline")
    for name, value, baseline, what in rows:
        print(f"{name:<46} {value:>9.3f} {baseline:>9.3f} {value / baseline:>6.2f}  {what}")


if __name__ == "__main__":
    main()
