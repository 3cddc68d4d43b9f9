"""The bot's own cost with each driver: time per page outside the LLM call, and memory per running bot.

The stand-in LLM answers at once, so what is left of a bot's time is its own
work (driver, page reading, store writes) and oTree's. Baselines measured in
the same run: the same pages played by a plain scripted HTTP client (what
oTree alone costs per page), and one idle headless Chromium. Run with
``bash benchmarks/run.sh bot_overhead``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import botex_fleet  # noqa: E402
from benchmarks.example_otree import start_example_otree  # noqa: E402
from benchmarks.process_tree import pss_mb  # noqa: E402
from botex_core.bot.browser import open_browser  # noqa: E402
from botex_core.processes import descendants  # noqa: E402
from botex_core.store import LLMExchange, Participant, session_scope  # noqa: E402
from sqlalchemy import select  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.http_player import WIDGETS_PAIR_ANSWERS, play_session  # noqa: E402


# The pages a participant reads, counted alike for bots and the plain client: Introduction,
# Questionnaire, Decision, Results and the 2 wait pages (the last page, Goodbye, not counted).
PAGES_PER_PARTICIPANT = 6


def tree_rss_mb() -> float:
    """Proportional set size (shared pages split among their users) of this process tree, in MB."""
    return sum(pss_mb(pid) for pid in [os.getpid(), *descendants(os.getpid())])


class PeakMemory:
    """Samples :func:`tree_rss_mb` in the background and keeps the peak."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb())
            self._stop.wait(0.1)


def http_seconds_per_page(bots: int, db: str) -> float:
    """Seconds per page of a participant played by the plain client, all of the session's at once."""
    session = botex_fleet.init_otree_session("widgets_pair", bots, botex_db=db)
    started = time.monotonic()
    play_session([(url, WIDGETS_PAIR_ANSWERS) for url in session["bot_urls"]])
    return (time.monotonic() - started) / PAGES_PER_PARTICIPANT


def idle_browser_mb() -> float:
    before = tree_rss_mb()
    with open_browser():
        time.sleep(1)
        return tree_rss_mb() - before


def bot_run(bots: int, db: str, llm: FakeLLM, driver: str) -> tuple[float, float]:
    """Seconds per page outside LLM calls, and peak MB per running bot."""
    session = botex_fleet.init_otree_session("widgets_pair", bots, botex_db=db)
    before = tree_rss_mb()
    with PeakMemory() as memory:
        botex_fleet.run_bots_on_session(
            session["session_id"], botex_db=db, model="openai/stand-in", api_key="k", api_base=llm.api_base,
            driver=driver,
        )
    with session_scope(db) as store:
        rows = store.scalars(select(Participant).where(Participant.session_id == session["session_id"])).all()
        if any(row.status != "finished" for row in rows):
            raise SystemExit(f"a bot did not finish: {[(r.status, r.status_reason) for r in rows]}")
        bot_seconds = sum((row.time_out - row.time_in).total_seconds() for row in rows)
        exchanges = store.scalars(select(LLMExchange).where(LLMExchange.session_id == session["session_id"])).all()
    llm_seconds = sum(e.latency_seconds or 0 for e in exchanges)
    return (bot_seconds - llm_seconds) / (bots * PAGES_PER_PARTICIPANT), (memory.peak - before) / bots


DRIVERS = ("browser", "http")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=4, help="bots per run (an even number)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    workspace = Path(tempfile.mkdtemp(prefix="botex-bench-"))
    db = str(workspace / "botex.sqlite3")
    otree, _ = start_example_otree(workspace)
    llm = FakeLLM().start()
    try:
        for driver in DRIVERS:
            bot_run(2, db, llm, driver)  # warm-up: imports, first browser start, oTree caches
        http_page = http_seconds_per_page(arguments.bots, db)
        browser_mb = idle_browser_mb()
        measured = {driver: bot_run(arguments.bots, db, llm, driver) for driver in DRIVERS}
    finally:
        llm.stop()
        botex_fleet.stop_otree_server(otree)
    print(f"{arguments.bots} bots on widgets_pair, stand-in LLM at zero latency")
    print(f"{'measure':<52} {'value':>8} {'baseline':>9} {'ratio':>7}")
    for driver, (overhead, per_bot_mb) in measured.items():
        print(f"{driver + ': bot time per page outside LLM calls (s)':<52} {overhead:>8.3f} {http_page:>9.3f} "
              f"{overhead / http_page:>7.1f}")
        print(f"{driver + ': peak memory per running bot (MB)':<52} {per_bot_mb:>8.1f} {browser_mb:>9.0f} "
              f"{per_bot_mb / browser_mb:>7.2f}")
    print("baselines: the same pages played by a plain scripted HTTP client; one idle headless Chromium")


if __name__ == "__main__":
    main()
