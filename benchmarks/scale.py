"""Many bots on one machine: 100, 300 and 1,000 concurrent HTTP bots in one worker.

Real PostgreSQL, Redis, oTree and one worker process (Celery's thread pool,
one slot per bot); the stand-in LLM answers after 10 s, a slow provider, so
that the bots spend their time waiting as they would on a real one. The bots
play ``widgets_pair`` sessions of 100 participants with the default driver
(``auto``: all of these pages work over HTTP). For each size it prints the
bots finished, the wall time, the page throughput, and the memory per
concurrent bot (the peak PSS of the worker, and of every process the run
started, oTree, PostgreSQL and Redis included). Baselines: the ideal, a
fleet whose only cost is waiting for the LLM (each bot's pages in the time of
its LLM calls, LLM calls per bot x latency), and, measured in the same run, a
plain scripted HTTP client playing as many participants at once with no
pauses at all: oTree's own page throughput on this machine. Beside oTree's CPU
per page it prints the worker's: what a bot page costs the fleet against what
it costs the server, and how busy each core was.

Run with ``bash benchmarks/run.sh scale`` (``--sizes 100,300,1000``, ``--latency 10``);
``--pinned`` puts oTree on the first core and everything else (worker, stand-in
LLM, Redis, PostgreSQL, the plain client) on the second, so that both the bots
and the plain client meet the same one-core oTree (it also prints what kept the
fleet's core busy); ``--profile FOLDER`` samples
the worker with py-spy and prints where its CPU goes.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_services import fleet_services  # noqa: E402
from benchmarks.cpu_profile import print_shares, recording  # noqa: E402
from benchmarks.process_tree import SessionSampler  # noqa: E402
from tests.support.http_player import WIDGETS_PAIR_ANSWERS, play_session  # noqa: E402
from tests.support.services import PostgresCluster  # noqa: E402
from tests.support.workers import Workers  # noqa: E402

PARTICIPANTS_PER_SESSION = 100
# The pages a participant of widgets_pair reads (its two wait pages not counted):
# Introduction, Questionnaire, Decision, Results, Goodbye.
PAGES_PER_PARTICIPANT = 5
OTREE_CORE, FLEET_CORE = 0, 1

@dataclass
class Run:
    """One size's measurements."""

    bots: int
    finished: int
    wall_seconds: float
    llm_calls: int
    worker_mb: float
    all_mb: float
    otree_cpu_seconds: float
    worker_cpu_seconds: float
    # The share of each core's time that was busy during the run, and the benchmark's own (stand-in LLM).
    cores_busy: list[float]
    benchmark_cpu_seconds: float
    plain_pages_per_second: float = 0.0
    plain_otree_cpu_seconds: float = 0.0

    @property
    def pages_per_second(self) -> float:
        """Pages read by the bots that finished, per second of the run."""
        return self.finished * PAGES_PER_PARTICIPANT / self.wall_seconds

    @property
    def otree_ms_per_page(self) -> float:
        """oTree's CPU time per page the bots read (wait pages asked again included)."""
        return 1000 * self.otree_cpu_seconds / (self.finished * PAGES_PER_PARTICIPANT or 1)

    @property
    def worker_ms_per_page(self) -> float:
        """The worker's CPU time per page the bots read."""
        return 1000 * self.worker_cpu_seconds / (self.finished * PAGES_PER_PARTICIPANT or 1)

    @property
    def plain_otree_ms_per_page(self) -> float:
        """oTree's CPU time per page the plain client read."""
        return 1000 * self.plain_otree_cpu_seconds / (self.bots * PAGES_PER_PARTICIPANT)

    def ideal_pages_per_second(self, latency: float) -> float:
        """Pages per second if the bots only ever waited for their LLM calls."""
        return self.bots * PAGES_PER_PARTICIPANT / (self.llm_calls / self.bots * latency)


def session_sizes(bots: int) -> list[int]:
    """Sessions of PARTICIPANTS_PER_SESSION (an even number per session) that add up to ``bots``."""
    full, rest = divmod(bots, PARTICIPANTS_PER_SESSION)
    return [PARTICIPANTS_PER_SESSION] * full + ([rest + rest % 2] if rest else [])


class CpuMeter:
    """CPU seconds that a process and the rest of its session use from the meter's making on."""

    def __init__(self, pid: int) -> None:
        self._sampler = SessionSampler()
        self._sampler.sessions.add(os.getsid(pid))
        self._sampler.sample()
        self._start = self._sampler.cpu_seconds

    def used(self) -> float:
        """CPU seconds since the meter was made."""
        self._sampler.sample()
        return self._sampler.cpu_seconds - self._start


def run_bots(bots: int, workers: Workers, services: list[int], api_base: str, model: str, profile: Path | None) -> Run:
    """Play ``bots`` concurrent bots in one new worker, sampling its memory and that of ``services`` (pids),
    and its stacks into ``profile`` when given."""
    import botex_fleet
    from botex_core.progress import session_progress
    from botex_worker.dispatch import enqueue, session_bots, wait_until_ended
    from botex_worker.submission import Submission

    db = os.environ["BOTEX_DB"]
    codes = [botex_fleet.init_otree_session("widgets_pair", size, botex_db=db)["session_id"]
             for size in session_sizes(bots)]
    submission = Submission(embedded=False)
    everyone = [bot for code in codes for bot in session_bots(code, db, submission, model=model,
                                                              api_base=api_base)]
    name = f"scale{bots}"
    workers.start(name, concurrency=len(everyone), queues=None)
    workers.wait_ready(name, timeout=120)
    worker, everything = SessionSampler(), SessionSampler()
    worker.sessions.add(os.getsid(workers.processes[name].pid))
    everything.sessions |= worker.sessions
    for pid in services:  # a service in a session of its own is sampled with its children
        if os.getsid(pid) != os.getsid(0):
            everything.sessions.add(os.getsid(pid))
        everything.pids.add(pid)
    worker_pid = workers.processes[name].pid
    otree, worker_cpu = CpuMeter(services[0]), CpuMeter(worker_pid)
    cores_before, benchmark_before = psutil.cpu_times(percpu=True), psutil.Process().cpu_times()
    started = time.monotonic()
    with worker, everything, recording(worker_pid, profile) if profile else nullcontext():
        enqueue(everyone, db, submission)
        wait_until_ended(everyone, db)
    wall = time.monotonic() - started
    otree_cpu, worker_cpu_seconds = otree.used(), worker_cpu.used()
    cores_busy = [busy_share(before, after) for before, after in zip(cores_before, psutil.cpu_times(percpu=True))]
    benchmark_after = psutil.Process().cpu_times()
    benchmark_cpu = benchmark_after.user + benchmark_after.system - benchmark_before.user - benchmark_before.system
    workers.stop_all()
    progress = [session_progress(code, db) for code in codes]
    return Run(len(everyone), sum(p.finished for p in progress), wall, sum(p.llm_calls for p in progress),
               worker.peak_mb, everything.peak_mb, otree_cpu, worker_cpu_seconds, cores_busy, benchmark_cpu)


def busy_share(before: Any, after: Any) -> float:
    """The share of a core's time between two ``psutil.cpu_times`` readings that was not idle."""
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    return 1 - idle / total if total else 0.0


def play_plainly(run: Run, otree_pid: int) -> None:
    """Measure a plain scripted HTTP client playing as many participants as ``run`` had bots, all at once:
    its pages per second and oTree's CPU seconds."""
    import botex_fleet

    urls = [url for size in session_sizes(run.bots)
            for url in botex_fleet.init_otree_session("widgets_pair", size)["bot_urls"]]
    otree = CpuMeter(otree_pid)
    started = time.monotonic()
    play_session([(url, WIDGETS_PAIR_ANSWERS) for url in urls], timeout=1800)
    run.plain_pages_per_second = len(urls) * PAGES_PER_PARTICIPANT / (time.monotonic() - started)
    run.plain_otree_cpu_seconds = otree.used()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000", help="concurrent bots per run")
    parser.add_argument("--latency", type=float, default=10.0, help="seconds per stand-in LLM call")
    parser.add_argument("--model", default="openai/gpt-4o-mini",
                        help="the model the bots name (the stand-in answers any; LiteLLM prices the calls by it)")
    parser.add_argument("--pinned", action="store_true", help="oTree on the first core, everything else on the second")
    parser.add_argument("--profile", type=Path, metavar="FOLDER", help="sample the worker with py-spy into FOLDER")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if arguments.pinned:
        os.sched_setaffinity(0, {FLEET_CORE})  # what this process starts from now on inherits it
    if arguments.profile:
        arguments.profile.mkdir(parents=True, exist_ok=True)
    runs = []
    with fleet_services("botex-scale-", arguments.latency) as services:
        if arguments.pinned:
            pin_session(services.otree.pid, OTREE_CORE)
        os.environ.update({
            "BOTEX_BROKER_URL": services.redis.url, "BOTEX_DB": services.postgres.create_database("scale"),
            "OPENAI_API_KEY": "sk-scale", "BOTEX_VISIBILITY_TIMEOUT": "3600", "BOTEX_WAIT_TIMEOUT": "1800",
            "BOTEX_GIVE_BACK_SLOT_SECONDS": "1800",
        })
        from botex_worker.app import configure_app

        configure_app()
        workers = Workers(os.environ, services.workspace)
        pids = [services.otree.pid, services.redis.process.pid, postgres_pid(services.postgres)]
        try:
            for bots in (int(size) for size in arguments.sizes.split(",")):
                profile = arguments.profile / f"worker-{bots}-bots.txt" if arguments.profile else None
                run = run_bots(bots, workers, pids, services.llm.api_base, arguments.model, profile)
                play_plainly(run, services.otree.pid)
                runs.append(run)
                print(f"{run.bots} bots: {run.finished} finished in {run.wall_seconds:.0f} s, "
                      f"{run.pages_per_second:.1f} pages/s (ideal {run.ideal_pages_per_second(arguments.latency):.1f}, "
                      f"plain client {run.plain_pages_per_second:.1f}), worker {run.worker_mb / run.bots:.1f} MB per bot, "
                      f"oTree {run.otree_ms_per_page:.0f} ms CPU per page (plain client {run.plain_otree_ms_per_page:.0f}), "
                      f"worker {run.worker_ms_per_page:.0f} ms CPU per page", flush=True)
                if arguments.pinned:
                    print_fleet_core(run)
                if profile:
                    print_shares(f"Where the worker's CPU went, {bots} bots", profile)
        finally:
            workers.stop_all()
    print_table(runs, arguments.latency, arguments.pinned)


def print_fleet_core(run: Run) -> None:
    """How busy each core was, and what kept the fleet's core busy."""
    worker, benchmark = (seconds / run.wall_seconds for seconds in (run.worker_cpu_seconds, run.benchmark_cpu_seconds))
    fleet_core = run.cores_busy[FLEET_CORE]
    print(f"oTree's core busy {run.cores_busy[OTREE_CORE]:.0%}; the fleet's core busy {fleet_core:.0%}: worker "
          f"{worker:.0%}, stand-in LLM (in the benchmark's process) {benchmark:.0%}, PostgreSQL, Redis and the rest "
          f"{max(fleet_core - worker - benchmark, 0):.0%}", flush=True)


def pin_session(pid: int, core: int) -> None:
    """Put every thread of every process in ``pid``'s session (``setsid``) on one core."""
    session = os.getsid(pid)
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session:
                for thread in process.threads():
                    os.sched_setaffinity(thread.id, {core})
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue


def postgres_pid(postgres: PostgresCluster) -> int:
    """The postmaster's pid, from its pid file."""
    return int((Path(postgres.data_dir) / "postmaster.pid").read_text().split()[0])


def print_table(runs: list[Run], latency: float, pinned: bool) -> None:
    where = ("oTree alone on one core, everything else on the other" if pinned
             else f"everything on this machine's {os.cpu_count()} cores")
    print(f"\nHTTP bots in one worker, {where}, stand-in LLM at {latency:g} s per call")
    print("| bots | finished | wall | pages/s | ideal pages/s | ratio | plain client pages/s | ratio "
          "| oTree CPU ms/page (plain) | worker CPU ms/page | worker to oTree | worker MB per bot | all MB per bot "
          "| cores busy (0 / 1) |")
    print("| --- " * 14 + "|")
    for run in runs:
        ideal = run.ideal_pages_per_second(latency)
        print(f"| {run.bots} | {run.finished} | {run.wall_seconds:.0f} s | {run.pages_per_second:.1f} | {ideal:.1f} "
              f"| {run.pages_per_second / ideal:.2f} | {run.plain_pages_per_second:.1f} "
              f"| {run.pages_per_second / run.plain_pages_per_second:.2f} "
              f"| {run.otree_ms_per_page:.0f} ({run.plain_otree_ms_per_page:.0f}) "
              f"| {run.worker_ms_per_page:.0f} | {run.worker_ms_per_page / run.otree_ms_per_page:.2f} "
              f"| {run.worker_mb / run.bots:.1f} | {run.all_mb / run.bots:.1f} "
              f"| {' / '.join(f'{share:.0%}' for share in run.cores_busy)} |")
    print("baselines: the ideal (only LLM waits: LLM calls per bot x latency); a plain scripted HTTP client, "
          "as many participants at once, no pauses (oTree's own ceiling)")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that everything started is stopped
    main()
