"""How well ``study plan --dry-run`` foresees a real run, on the local model.

A pilot study of one experiment (the guessing game of three) runs on SmolLM2
through llama.cpp and leaves the model's retries in a botex database. The plan of
another experiment (the two-player ``widgets_pair``), never played, is then
estimated by a dry run with those retries; then that experiment is played for
real, several times. It prints the estimated and the real LLM calls and prompt
and completion tokens per session, the ratio of each, and the dry run alone
(without the model's retries) for comparison. Run with
``bash benchmarks/run.sh estimate`` (``--sessions 3`` real sessions by default;
``--sessions 1 --stand-in`` is the quick form the test suite runs).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import botex_fleet  # noqa: E402
from benchmarks.example_otree import start_example_otree  # noqa: E402
from botex_core.progress import SessionProgress, session_progress  # noqa: E402
from botex_core.study.estimate import Estimate  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.services import free_port  # noqa: E402

PILOT = "guess_two_thirds"
PLANNED = "widgets_pair"


def study(config: str, participants: int, model: str, api_base: str) -> dict:
    """A study of one session of ``config`` with every bot on ``model``."""
    return {"name": f"estimate-{config}", "arms": [{"name": config, "session_config": config,
                                                     "participants": participants,
                                                     "bots": {"model": model, "api_base": api_base}}]}


@contextmanager
def language_model(stand_in: bool, workspace: Path) -> Iterator[tuple[str, str]]:
    """The model the bots use and its address: the local model, or the stand-in LLM."""
    if stand_in:
        os.environ.setdefault("OPENAI_API_KEY", "sk-estimate")
        llm = FakeLLM().start()
        try:
            yield "openai/stand-in", llm.api_base
        finally:
            llm.stop()
        return
    llama_url = f"http://127.0.0.1:{free_port()}"
    llama = botex_fleet.start_llamacpp_server({"server_url": llama_url, "num_slots": 3,
                                               "log_file": str(workspace / "llamacpp.log")})
    try:
        yield "llamacpp", llama_url
    finally:
        botex_fleet.stop_llamacpp_server(llama)


def play(sessions: int, model: str, api_base: str, workspace: Path,
         db: str) -> tuple[Estimate, Estimate, list[SessionProgress]]:
    """The pilot, the dry runs of the planned experiment (with the pilot's retries and alone), and the
    progress of each of its real ``sessions``."""
    print(f"pilot: one session of {PILOT} (3 bots) on {model}", flush=True)
    botex_fleet.run_study(study(PILOT, 3, model, api_base), botex_db=db)
    planned = botex_fleet.plan_study(study(PLANNED, 2, model, api_base), botex_db=db, dry_run=True).rows[0].estimate
    alone = botex_fleet.plan_study(study(PLANNED, 2, model, api_base), botex_db=str(workspace / "empty.sqlite3"),
                                   dry_run=True).rows[0].estimate
    assert planned is not None and alone is not None
    print(f"plan of {PLANNED} (2 bots): {planned.basis_text}", flush=True)
    real = []
    for number in range(sessions):
        session = botex_fleet.init_otree_session(PLANNED, 2, botex_db=db)
        botex_fleet.run_bots_on_session(session["session_id"], botex_db=db, model=model, api_base=api_base)
        real.append(session_progress(session["session_id"], db))
        print(f"real session {number + 1}: {real[-1].line()}", flush=True)
    return planned, alone, real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3, help="real sessions of the planned experiment")
    parser.add_argument("--stand-in", action="store_true",
                        help="the quick form: the stand-in LLM instead of the local model (it never needs a "
                             "retry, so the estimate with retries is the dry run's own)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    workspace = Path(tempfile.mkdtemp(prefix="botex-estimate-"))
    db = str(workspace / "botex.sqlite3")
    otree, _ = start_example_otree(workspace)
    try:
        with language_model(arguments.stand_in, workspace) as (model, api_base):
            planned, alone, real = play(arguments.sessions, model, api_base, workspace, db)
    finally:
        botex_fleet.stop_otree_server(otree)
    print(f"\n{'per session':<22} {'dry run alone':>14} {'with retries':>13} {'real (mean)':>12} {'min':>7} "
          f"{'max':>7} {'estimate/real':>14}")
    for name, field in (("LLM calls", "llm_calls"), ("prompt tokens", "prompt_tokens"),
                        ("completion tokens", "completion_tokens")):
        values = [getattr(progress, field) for progress in real]
        mean = statistics.fmean(values)
        print(f"{name:<22} {getattr(alone, field):>14.0f} {getattr(planned, field):>13.0f} {mean:>12.0f} "
              f"{min(values):>7} {max(values):>7} {getattr(planned, field) / mean:>14.2f}")


if __name__ == "__main__":
    main()
