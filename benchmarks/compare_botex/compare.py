"""botex 0.2.0 and botex-fleet side by side on the same work.

One oTree server and one stand-in LLM (a fixed latency per call) serve every
run. Each run creates a fresh session of the same config and plays it to the
end with one of:

- original: botex 0.2.0 (its own virtual environment), ``run_bots_on_session``;
- embedded: botex-fleet's ``run_bots_on_session`` in one process;
- fleet: ``botex-cli submit --wait`` with 2 workers on Redis (started and idle
  before the clock starts, as in a deployment).

botex-fleet runs once per driver (``--drivers browser,http``). Each run has a
time cap (``--cap``); a run that reaches it is stopped and shown as capped.
Every process a run started is stopped when the run ends, and everything the
comparison started when it ends or is interrupted (SIGINT, SIGTERM).

For each run: wall time, CPU seconds and peak PSS of every process the run
started (browsers, drivers, workers, Redis), LLM calls and prompt tokens per
bot as the stand-in counted them, and the bots that reached oTree's last page.
Then botex-fleet's ratios to the original. Run with
``bash benchmarks/compare_botex/run.sh``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import botex_fleet  # noqa: E402
from benchmarks.example_otree import start_example_otree  # noqa: E402
from benchmarks.process_tree import SessionSampler, kill_sessions  # noqa: E402
from tests.support.fake_llm import FakeLLM, prompt_tokens  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402
from tests.support.workers import BOTEX_CLI, Workers  # noqa: E402

SESSION_BOTS = Path(__file__).with_name("session_bots.py")
SYSTEMS = ("original", "embedded", "fleet")
DRIVERS = ("browser", "http")
FLEET_WORKERS = 2


@dataclass
class Run:
    """What one run of one system cost."""

    system: str
    bots: int
    capped: bool
    wall_seconds: float
    cpu_seconds: float
    peak_mb: float
    llm_calls: int
    prompt_tokens: int
    finished: int
    peak_by_command: dict[str, float]

    @property
    def mb_per_bot(self) -> float:
        return self.peak_mb / self.bots

    @property
    def calls_per_bot(self) -> float:
        return self.llm_calls / self.bots

    @property
    def prompt_tokens_per_finished_bot(self) -> float:
        return self.prompt_tokens / self.finished if self.finished else float("inf")


@dataclass
class Bench:
    """The shared parts: oTree, the stand-in LLM, Redis, and where runs write."""

    workspace: Path
    otree_url: str
    llm: FakeLLM
    redis: RedisServer
    model: str
    config: str
    original_python: str
    shims: str
    cap_seconds: float

    def run(self, system: str, bots: int, driver: str | None = None) -> Run:
        """Play one session of ``bots`` bots with ``system`` (botex-fleet's with ``driver``), measured."""
        label = f"{system} {driver}" if driver else system
        db = str(self.workspace / f"{label.replace(' ', '-')}-{bots}.sqlite3")
        first_request = len(self.llm.requests)
        sampler = SessionSampler()
        workers = Workers(self._env(db, driver, fleet=True), self.workspace)
        if system == "fleet":
            for number in range(FLEET_WORKERS):
                workers.start(f"bench{number}-{bots}", concurrency=-(-bots // FLEET_WORKERS))
            sampler.sessions.update(p.pid for p in workers.processes.values())
            sampler.pids.add(self.redis.process.pid)
            _wait_for_workers(FLEET_WORKERS)
        log_path = self.workspace / f"{label.replace(' ', '-')}-{bots}.log"
        capped = False
        try:
            with sampler, open(log_path, "w") as log:
                started = time.monotonic()
                process = subprocess.Popen(
                    self._command(system, bots, db), env=self._env(db, driver, fleet=system == "fleet"),
                    cwd=self.workspace, start_new_session=True, stdout=subprocess.PIPE, stderr=log, text=True,
                )
                sampler.sessions.add(process.pid)
                try:
                    output, _ = process.communicate(timeout=self.cap_seconds)
                except subprocess.TimeoutExpired:
                    capped = True
                    kill_sessions({process.pid})
                    output, _ = process.communicate()
                wall = time.monotonic() - started
        finally:
            workers.stop_all()
            kill_sessions(sampler.sessions)  # whatever the run left: browsers, drivers, workers
        if process.returncode != 0 and not output.strip():
            raise SystemExit(f"{label} with {bots} bots exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
        requests = self.llm.requests[first_request:]
        session_id = _session_id(output)
        if session_id is None and not capped:
            raise SystemExit(f"{label} with {bots} bots printed no session id: {output!r}")
        return Run(
            label, bots, capped, wall, sampler.cpu_seconds, sampler.peak_mb, len(requests),
            sum(prompt_tokens(body) for body in requests), self._finished(session_id) if session_id else 0,
            sampler.peak_by_command,
        )

    def _command(self, system: str, bots: int, db: str) -> list[str]:
        common = [self.config, str(bots), db, self.otree_url, self.model, self.llm.api_base]
        if system == "original":
            return [self.original_python, str(SESSION_BOTS), "botex", *common]
        if system == "embedded":
            return [sys.executable, str(SESSION_BOTS), "botex_fleet", *common]
        return [BOTEX_CLI, "submit", "-s", self.config, "-p", str(bots), "-b", db, "-u", self.otree_url,
                "-m", self.model, "-a", self.llm.api_base, "--wait"]

    def _env(self, db: str, driver: str | None, fleet: bool = False) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "BOTEX_BROKER_URL"}
        return {
            **env,
            **({"BOTEX_DRIVER": driver} if driver else {}),
            "PATH": f"{self.shims}{os.pathsep}{os.environ['PATH']}",
            "SE_OFFLINE": "true",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "OPENAI_API_KEY": "sk-bench",
            "BOTEX_DB": db,
            **({"BOTEX_BROKER_URL": self.redis.url} if fleet else {}),
            "OTREE_SERVER_URL": self.otree_url,
        }

    def _finished(self, session_id: str) -> int:
        """Participants of the session on oTree's last page."""
        wide = self.workspace / f"{session_id}.csv"
        botex_fleet.export_otree_data(str(wide), server_url=self.otree_url, session_id=session_id)
        with open(wide, newline="", encoding="utf-8-sig") as file:
            rows = list(csv.DictReader(file))
        return sum(1 for row in rows if row["participant._index_in_pages"] == row["participant._max_page_index"])


def _session_id(output: str) -> str | None:
    for line in output.splitlines():
        words = line.split()
        if words:
            return words[1].rstrip(":") if words[0] == "session" else words[0]
    return None


def _wait_for_workers(count: int) -> None:
    from botex_worker.app import app, configure_app

    configure_app()
    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=1.0)) < count:
        if time.monotonic() > deadline:
            raise SystemExit("the fleet's workers did not start")


def print_table(runs: list[Run], latency: float, config: str) -> None:
    """The measured runs, then the ratios of botex-fleet to the original at each size."""
    print(f"\n{config}, stand-in LLM at {latency:g} s per call, {os.cpu_count()} cores")
    header = f"{'system':<17} {'bots':>4} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'MB/bot':>7} {'calls/bot':>9} {'prompt tok/fin. bot':>19} {'finished':>8}"
    print(header)
    for run in runs:
        print(f"{run.system:<17} {run.bots:>4} {run.wall_seconds:>7.1f} {run.cpu_seconds:>7.1f} {run.peak_mb:>8.0f} "
              f"{run.mb_per_bot:>7.1f} {run.calls_per_bot:>9.1f} {run.prompt_tokens_per_finished_bot:>19.0f} "
              f"{run.finished:>5}/{run.bots:<2}{' (capped)' if run.capped else ''}")
    largest = max(run.bots for run in runs)
    print(f"\npeak memory by process name at {largest} bots (MB)")
    for run in runs:
        if run.bots == largest:
            split = sorted(run.peak_by_command.items(), key=lambda item: -item[1])
            print(f"{run.system:<17} " + ", ".join(f"{name} {mb:.0f}" for name, mb in split))
    print("\nratio to the original (targets at 16 bots: wall <= 0.5, MB/bot <= 0.5, prompt tokens <= 1.0)")
    print(f"{'system':<17} {'bots':>4} {'wall':>6} {'CPU':>6} {'MB/bot':>7} {'prompt tok/fin. bot':>19}")
    originals = {run.bots: run for run in runs if run.system == "original"}
    for run in runs:
        base = originals.get(run.bots)
        if run.system == "original" or base is None or base.prompt_tokens_per_finished_bot == 0:
            continue
        print(f"{run.system:<17} {run.bots:>4} {run.wall_seconds / base.wall_seconds:>6.2f} "
              f"{run.cpu_seconds / base.cpu_seconds:>6.2f} {run.mb_per_bot / base.mb_per_bot:>7.2f} "
              f"{run.prompt_tokens_per_finished_bot / base.prompt_tokens_per_finished_bot:>19.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original-python", required=True, help="python of the botex 0.2.0 environment")
    parser.add_argument("--shims", required=True, help="folder with google-chrome and chromedriver for Selenium")
    parser.add_argument("--bots", default="2,8,16", help="session sizes (even numbers)")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per stand-in LLM call")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="which systems to run")
    parser.add_argument("--drivers", default=",".join(DRIVERS), help="botex-fleet's drivers to run")
    parser.add_argument("--cap", type=float, default=600.0, help="seconds a run may take before it is stopped")
    parser.add_argument("--config", default="contribution_pair", help="oTree session config")
    parser.add_argument("--model", default="openai/gpt-4o-2024-08-06", help="model name sent to the stand-in")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    workspace = Path(tempfile.mkdtemp(prefix="botex-compare-"))
    otree, otree_url = start_example_otree(workspace)
    llm = FakeLLM(latency=arguments.latency).start()
    redis = RedisServer.start(str(workspace))
    os.environ["BOTEX_BROKER_URL"] = redis.url
    bench = Bench(workspace, otree_url, llm, redis, arguments.model, arguments.config,
                  arguments.original_python, arguments.shims, arguments.cap)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that everything started is stopped below
    runs: list[Run] = []
    try:
        for bots in (int(n) for n in arguments.bots.split(",")):
            for system in arguments.systems.split(","):
                for driver in [None] if system == "original" else arguments.drivers.split(","):
                    print(f"{system} {driver or ''}: {bots} bots ...", end=" ", flush=True)
                    run = bench.run(system, bots, driver)
                    runs.append(run)
                    print(f"{run.wall_seconds:.1f} s, {run.finished}/{bots} finished"
                          f"{' (capped)' if run.capped else ''}", flush=True)
    finally:
        llm.stop()
        redis.stop()
        botex_fleet.stop_otree_server(otree)
    print_table(runs, arguments.latency, arguments.config)
    print(f"\nlogs and databases: {workspace}")


if __name__ == "__main__":
    main()
