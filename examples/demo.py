"""The botex-fleet demo: LLM bots on the local model play a session of the example experiment.

It starts the example oTree server and llama.cpp's server with SmolLM2, creates
a session, runs the bots with a progress display, exports the botex and oTree
data (wide and normalised) to a folder and prints a summary; with ``--pretest`` it
writes the session's pretest report too. With ``--study FILE``
it runs a study instead (its ``llamacpp`` bots on the demo's llama.cpp server)
and writes the study's export and HTML report. Run it through
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
import tomllib
from pathlib import Path
from typing import Any

import botex_fleet
from botex_core.progress import report_progress, session_progress
from botex_core.study.records import free_study_name
from botex_fleet.studies import ArmProgress

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
    parser.add_argument("--study", help="a study file to run instead of one session (for example "
                                        "examples/studies/local_guess.toml); its llamacpp bots use the demo's model")
    parser.add_argument("--slots", type=int, default=4, help="requests the local model serves at once")
    parser.add_argument("--pretest", action="store_true",
                        help="also write the pretest report of the session (pretest.html in the output folder)")
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
            "server_url": llama_url, "num_slots": arguments.slots if arguments.study else min(arguments.participants, arguments.slots),
            "log_file": str(workspace / "llamacpp.log"),
        })
        if arguments.study:
            run_study_on_the_local_model(Path(arguments.study), llama_url, botex_db, output)
            return
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
        unfinished = summarize(session_id, botex_db, output, minutes)
        if arguments.pretest:
            report = botex_fleet.pretest_report(output / "pretest.html", [session_id], botex_db=botex_db)
            print(f"pretest report: {report}")
        sys.exit(1 if unfinished else 0)
    finally:
        if llama is not None:
            botex_fleet.stop_llamacpp_server(llama)
        botex_fleet.stop_otree_server(otree)


def run_study_on_the_local_model(study_file: Path, llama_url: str, botex_db: str, output: Path) -> None:
    """Run the study with its llamacpp bots on ``llama_url``; export its data and write its report."""
    study = on_local_model(tomllib.loads(study_file.read_text()), llama_url, study_file.parent)
    study["name"] = free_study_name(botex_db, study["name"])
    started = time.monotonic()
    progress = ArmProgress(botex_db, lambda line: print("  " + line, flush=True), interval=5)
    try:
        played = botex_fleet.run_study(study, botex_db=botex_db, on_created=progress.start)
    finally:
        progress.stop()
    minutes = (time.monotonic() - started) / 60
    botex_fleet.export_study(played.name, output, botex_db=botex_db)
    report = botex_fleet.study_report(played.name, output / "report.html", botex_db=botex_db)
    print(f"\nstudy {played.name} finished in {minutes:.1f} min:")
    for arm, counts in played.progress(botex_db).items():
        print(f"  arm {arm}: {counts.line()}")
    print(f"\ndata in {output}, report in {report}")
    unfinished = sum(counts.bots - counts.finished for counts in played.progress(botex_db).values())
    sys.exit(1 if unfinished else 0)


def on_local_model(study: dict[str, Any], llama_url: str, folder: Path) -> dict[str, Any]:
    """``study`` with every llamacpp bot on ``llama_url`` and persona files found from ``folder``."""
    for arm in study.get("arms", []):
        for spec in [arm.get("bots") or {}, *arm.get("positions", [])]:
            if spec.get("model") == "llamacpp":
                spec["api_base"] = llama_url
            persona = spec.get("persona")
            if isinstance(persona, dict) and "csv" in persona:
                persona["csv"] = str((folder / persona["csv"]).resolve())
    return study


def export(session_id: str, botex_db: str, output: Path) -> None:
    botex_fleet.export_participant_data(str(output / "botex_participants.csv"), botex_db, session_id)
    botex_fleet.export_response_data(str(output / "botex_responses.csv"), botex_db, session_id)
    botex_fleet.export_action_data(str(output / "botex_actions.csv"), botex_db, session_id)
    wide = output / "otree_wide.csv"
    botex_fleet.export_otree_data(str(wide), session_id=session_id)
    botex_fleet.normalize_otree_data(str(wide), store_as_csv=True, data_exp_path=str(output), exp_prefix="otree")


def summarize(session_id: str, botex_db: str, output: Path, minutes: float) -> int:
    """Print the session's summary and where its data is; return how many bots did not finish."""
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
    return sum(1 for p in participants if p["status"] != "finished")


if __name__ == "__main__":
    main()
