"""The botex-fleet demo: LLM bots on the local model play a session of the example experiment.

It starts the example oTree server and llama.cpp's server with SmolLM2, creates
a session, runs the bots with a progress display, exports the botex and oTree
data (wide and normalised) to a folder and prints a summary. Run it through
``bash scripts/demo.sh``, which sets everything up first.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import botex_fleet
from botex_core.progress import report_progress, session_progress

EXAMPLE_PROJECT = Path(__file__).resolve().parent / "otree"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="widgets_pair", help="session config of the example project")
    parser.add_argument("--participants", type=int, default=2, help="number of bots")
    parser.add_argument("--output", default="demo-output", help="folder for the exported data")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    output = Path(arguments.output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    botex_db = str(output / "botex.sqlite3")
    workspace = Path(tempfile.mkdtemp(prefix="botex-demo-"))
    project = workspace / "otree"
    shutil.copytree(EXAMPLE_PROJECT, project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))

    print(f"starting the example oTree server and the local model (logs in {workspace})")
    otree = botex_fleet.start_otree_server(
        str(project), free_port(), str(workspace / "otree.log"), auth_level="STUDY",
        rest_key=secrets.token_hex(16), admin_password=secrets.token_hex(16), timeout=60,
    )
    llama_url = f"http://127.0.0.1:{free_port()}"
    llama = None
    try:
        llama = botex_fleet.start_llamacpp_server({
            "server_url": llama_url, "num_slots": min(arguments.participants, 4),
            "log_file": str(workspace / "llamacpp.log"),
        })
        session = botex_fleet.init_otree_session(arguments.config, arguments.participants, botex_db=botex_db)
        session_id = session["session_id"]
        print(f"session {session_id}: {arguments.participants} bots on '{arguments.config}'")
        print(f"watch it at {os.environ['OTREE_SERVER_URL']}/SessionMonitor/{session_id}")
        started = time.monotonic()
        threads = botex_fleet.run_bots_on_session(
            session_id, botex_db=botex_db, model="llamacpp", api_base=llama_url, wait=False
        )
        finished = threading.Event()
        reporter = threading.Thread(
            target=report_progress, args=(session_id, botex_db, finished, lambda line: print("  " + line, flush=True))
        )
        reporter.start()
        for thread in threads:
            thread.join()
        finished.set()
        reporter.join()
        minutes = (time.monotonic() - started) / 60
        export(session_id, botex_db, output)
        summarize(session_id, botex_db, output, minutes)
    finally:
        if llama is not None:
            botex_fleet.stop_llamacpp_server(llama)
        botex_fleet.stop_otree_server(otree)


def export(session_id: str, botex_db: str, output: Path) -> None:
    botex_fleet.export_participant_data(str(output / "botex_participants.csv"), botex_db, session_id)
    botex_fleet.export_response_data(str(output / "botex_responses.csv"), botex_db, session_id)
    wide = output / "otree_wide.csv"
    botex_fleet.export_otree_data(str(wide), session_id=session_id)
    botex_fleet.normalize_otree_data(str(wide), store_as_csv=True, data_exp_path=str(output), exp_prefix="otree")


def summarize(session_id: str, botex_db: str, output: Path, minutes: float) -> None:
    progress = session_progress(session_id, botex_db)
    participants = botex_fleet.read_participants_from_botex_db(session_id, botex_db)
    responses = botex_fleet.read_responses_from_botex_db(botex_db, session_id)
    print(f"\nfinished in {minutes:.1f} min: {progress.line()}\n")
    print(f"{'participant':<12} {'status':<10} {'answers':>7}  note")
    for participant in participants:
        answers = sum(1 for r in responses if r["participant_id"] == participant["participant_id"])
        note = participant["status_reason"] or ""
        print(f"{participant['participant_id']:<12} {participant['status']:<10} {answers:>7}  {note}")
    print(f"\ndata in {output}:")
    for path in sorted(output.glob("*.csv")):
        print(f"  {path.name}")
    failed = [p for p in participants if p["status"] != "finished"]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
