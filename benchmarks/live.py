"""Bots on a live page: double auctions of 3, 12 and 30 bots in Chromium, with the stand-in LLM at 1 s.

Per size it prints, per bot on the market page: actions per minute, LLM calls
per action, the seconds from a change on the page (another offer, a trade) to
the bot's next action (median and 95th percentile; the target is 1.5 x the LLM
latency at the median), Chromium's CPU seconds per bot and minute and its memory
per bot, and whether every bot lived to the market's end (finished, and oTree
has it past its last page), and what a minute of the page costs a bot: its LLM
calls per minute, their tokens (counted with gpt-4o-mini's tokenizer from the real
prompts; the replies are the stand-in's) and their price at gpt-4o-mini's list
price. The baseline is the LLM latency measured in the same run. Run with ``bash benchmarks/run.sh live`` (``--sizes 3 --market 20`` is the
quick form the test suite runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
from sqlalchemy import select  # noqa: E402

import botex_fleet  # noqa: E402
from benchmarks.example_otree import start_example_otree  # noqa: E402
from benchmarks.process_tree import pss_mb  # noqa: E402
from botex_core.costs import estimated_cost  # noqa: E402
from botex_core.llm.litellm_adapter import count_tokens  # noqa: E402
from botex_core.otree.client import OtreeClient  # noqa: E402
from botex_core.otree.position import positions_in_export  # noqa: E402
from botex_core.store import LLMExchange, LiveAction, session_scope  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402

ACTING = ("press", "enter", "chat", "go_on")
# The model whose tokenizer and list price give a minute of the live page its cost.
PRICED_AS = "gpt-4o-mini"


class ChromiumLoad:
    """Samples the Chromium processes below this one: CPU seconds used and the peak of their memory."""

    def __init__(self) -> None:
        self.cpu_seconds = 0.0
        self.peak_mb = 0.0
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ChromiumLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = sum(self._seen.values())

    def _sample(self) -> None:
        while not self._stop.is_set():
            memory = 0.0
            for process in psutil.Process().children(recursive=True):
                try:
                    if "chrom" not in process.name():
                        continue
                    times = process.cpu_times()
                    self._seen[process.pid] = times.user + times.system
                    memory += pss_mb(process.pid)
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, memory)
            self._stop.wait(0.5)


def market(bots: int, seconds: int, db: str, llm: FakeLLM, otree_url: str) -> dict[str, float]:
    """Play one double auction of ``bots`` bots; what each bot did on the market page, on average."""
    session = botex_fleet.init_otree_session("double_auction", bots, botex_db=db, otree_server_url=otree_url,
                                             modified_session_config_fields={"market_seconds": seconds})
    code = session["session_id"]
    with ChromiumLoad() as chromium:
        botex_fleet.run_bots_on_session(code, botex_db=db, model="openai/stand-in", api_key="k", api_base=llm.api_base,
                                        live_look_seconds=2.0, live_max_calls=1000, live_max_seconds=seconds + 60)
    with session_scope(db) as store:
        steps = store.scalars(select(LiveAction).where(LiveAction.session_id == code)).all()
        live_calls = [e for e in store.scalars(select(LLMExchange).where(LLMExchange.session_id == code))
                      if e.phase.startswith("live:")]
    acting = [step for step in steps if step.action in ACTING]
    reactions = sorted(step.reaction_seconds for step in acting if step.reaction_seconds is not None)
    rows = botex_fleet.read_participants_from_botex_db(code, db)
    positions = positions_in_export(OtreeClient.resolved(otree_url, None).export_wide(code))
    lived = sum(row["status"] == "finished" and positions[row["participant_id"]].done for row in rows)
    minutes = seconds / 60
    prompt = sum(count_tokens(PRICED_AS, messages=json.loads(call.request)["messages"]) for call in live_calls)
    completion = sum(count_tokens(PRICED_AS, text=call.response or "") for call in live_calls)
    return {
        "actions_per_minute": len(acting) / bots / minutes,
        "calls_per_minute": len(live_calls) / bots / minutes,
        "prompt_per_call": prompt / max(len(live_calls), 1),
        "completion_per_call": completion / max(len(live_calls), 1),
        "cost_per_minute": (estimated_cost(PRICED_AS, prompt, completion) or 0.0) / bots / minutes,
        "calls_per_action": len(live_calls) / max(len(acting), 1),
        "reaction_median": statistics.median(reactions) if reactions else float("nan"),
        "reaction_p95": reactions[int(0.95 * (len(reactions) - 1))] if reactions else float("nan"),
        "chromium_cpu_per_bot_minute": chromium.cpu_seconds / bots / minutes,
        "chromium_mb_per_bot": chromium.peak_mb / bots,
        "lived_to_the_end": lived,
        "bots": bots,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,12,30", help="bots per auction, comma-separated")
    parser.add_argument("--market", type=int, default=60, help="seconds the market is open")
    parser.add_argument("--latency", type=float, default=1.0, help="the stand-in LLM's seconds per answer")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    workspace = Path(tempfile.mkdtemp(prefix="botex-live-"))
    otree, otree_url = start_example_otree(workspace)
    llm = FakeLLM(latency=arguments.latency).start()
    results = []
    try:
        for size in (int(part) for part in arguments.sizes.split(",")):
            print(f"double auction of {size} bots, {arguments.market} s ...", flush=True)
            results.append(market(size, arguments.market, str(workspace / f"botex-{size}.sqlite3"), llm, otree_url))
    finally:
        llm.stop()
        botex_fleet.stop_otree_server(otree)
    latency = statistics.median(llm_latencies(workspace)) if llm_latencies(workspace) else arguments.latency
    print(f"\nstand-in LLM: {latency:.2f} s per call (median, measured); market open {arguments.market} s")
    print("| bots | actions/min per bot | LLM calls per action | reaction median | ratio to LLM latency | reaction p95 "
          "| Chromium CPU s per bot-minute | Chromium MB per bot | lived to the market's end "
          f"| LLM calls/min per bot | tokens per call in, out | $ per bot-minute as {PRICED_AS} |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['bots']} | {r['actions_per_minute']:.1f} | {r['calls_per_action']:.2f} | {r['reaction_median']:.2f} s "
              f"| {r['reaction_median'] / latency:.2f} | {r['reaction_p95']:.2f} s | {r['chromium_cpu_per_bot_minute']:.1f} "
              f"| {r['chromium_mb_per_bot']:.0f} | {r['lived_to_the_end']}/{r['bots']} | {r['calls_per_minute']:.1f} "
              f"| {r['prompt_per_call']:.0f}, {r['completion_per_call']:.0f} | {r['cost_per_minute']:.5f} |")
    return 0 if all(r["lived_to_the_end"] == r["bots"] for r in results) else 1


def llm_latencies(workspace: Path) -> list[float]:
    """Latencies of every LLM call of the run (what the reaction is compared with)."""
    latencies: list[float] = []
    for db in workspace.glob("botex-*.sqlite3"):
        with session_scope(str(db)) as store:
            latencies += [e.latency_seconds for e in store.scalars(select(LLMExchange)) if e.latency_seconds]
    return latencies


if __name__ == "__main__":
    sys.exit(main())
