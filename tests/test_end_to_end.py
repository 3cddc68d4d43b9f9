"""A whole session played by bots on the real local model (SmolLM2 on llama.cpp's server)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import text as sql

from botex_core.store import get_engine
from botex_fleet import (
    export_otree_data,
    export_participant_data,
    export_response_data,
    export_study,
    init_otree_session,
    normalize_otree_data,
    plan_study,
    read_actions_from_botex_db,
    read_participants_from_botex_db,
    read_responses_from_botex_db,
    run_bots_on_session,
    run_study,
    start_llamacpp_server,
    stop_llamacpp_server,
)
from botex_core.llm.gguf import gguf_context_length
from botex_core.otree.client import OtreeClient
from botex_core.otree.position import positions_in_export
from botex_core.progress import bots_progress
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.processes import browser_processes
from tests.support.services import free_port

QUESTIONS = {"nickname", "motivation", "age", "expected_share", "likes_puzzles",
             "favourite_colour", "risk_attitude", "trust", "consent", "cooperate"}


@pytest.fixture(scope="module")
def llamacpp_url(local_model_paths: tuple[str, str], tmp_path_factory: pytest.TempPathFactory):
    server, model = local_model_paths
    url = f"http://127.0.0.1:{free_port()}"
    process = start_llamacpp_server({
        "llamacpp_server_path": server, "local_llm_path": model, "server_url": url,
        "num_slots": 2, "log_file": str(tmp_path_factory.mktemp("llama") / "llamacpp.log"),
    })
    try:
        yield url
    finally:
        stop_llamacpp_server(process)
        assert process.poll() is not None


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as file:
        return list(csv.DictReader(file))


def test_model_metadata_gives_the_context_length(local_model_paths: tuple[str, str]) -> None:
    assert gguf_context_length(local_model_paths[1]) == 8192


@pytest.mark.timeout(1800)
def test_two_bots_finish_a_session_on_the_local_model_and_a_dry_run_foresaw_its_prompt_tokens(
    otree_server: RunningOtree, llamacpp_url: str, sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "600")
    before = browser_processes()
    session = init_otree_session("widgets_pair", 2, botex_db=sqlite_db)
    run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="llamacpp", api_base=llamacpp_url)

    export_participant_data(str(tmp_path / "participants.csv"), botex_db=sqlite_db, session_id=session["session_id"])
    export_response_data(str(tmp_path / "responses.csv"), botex_db=sqlite_db, session_id=session["session_id"])
    export_otree_data(str(tmp_path / "otree_wide.csv"), session_id=session["session_id"])
    tables = normalize_otree_data(str(tmp_path / "otree_wide.csv"), store_as_csv=True, data_exp_path=str(tmp_path), exp_prefix="otree")

    participants = read_csv(tmp_path / "participants.csv")
    assert [p["status"] for p in participants] == ["finished", "finished"], participants
    responses = read_csv(tmp_path / "responses.csv")
    for code in session["participant_code"]:
        mine = [r for r in responses if r["participant_id"] == code]
        assert {r["question_id"] for r in mine} == QUESTIONS
        assert all(r["reason"].strip() for r in mine)
    assert len(tables["player"]) == 2 and all(p["cooperate"] in (0, 1) for p in tables["player"])
    assert (tmp_path / "otree_player.csv").exists()
    assert browser_processes() == before

    # The plan's dry run takes the model's retries from the store, here those of this very run: what
    # is checked is the dry run's first tries (its prompts, counted with cl100k) against the model's.
    study = {"name": "pair", "arms": [{"name": "pair", "session_config": "widgets_pair", "participants": 2,
                                        "bots": {"model": "llamacpp", "api_base": llamacpp_url}}]}
    estimate = plan_study(study, botex_db=sqlite_db, dry_run=True).rows[0].estimate
    real = bots_progress(session["participant_code"], sqlite_db)
    assert estimate is not None and estimate.basis_text == "dry run, 2 bot(s) x retries of 2"
    assert abs(estimate.prompt_tokens - real.prompt_tokens) <= 0.25 * real.prompt_tokens, (estimate, real)


@pytest.mark.timeout(1800)
def test_a_study_with_one_position_on_the_local_model_and_two_on_the_stand_in(
    otree_server: RunningOtree, llamacpp_url: str, fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "900")
    db = str(tmp_path / "botex.sqlite3")
    (tmp_path / "people.csv").write_text("occupation\nbaker\n")
    study = tmp_path / "study.toml"
    study.write_text(f"""
name = "local-and-stand-in"

[[arms]]
name = "mixed"
session_config = "guess_two_thirds"
participants = 3

[[arms.positions]]
model = "openai/alpha"
api_base = "{fake_llm.api_base}"

[[arms.positions]]
model = "openai/beta"
api_base = "{fake_llm.api_base}"

[[arms.positions]]
model = "llamacpp"
api_base = "{llamacpp_url}"
persona = {{ csv = "people.csv", template = "You work as a {{occupation}}." }}
""")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-stand-in")
    run_study(study, botex_db=db)

    with get_engine(db).connect() as connection:
        rows = connection.execute(sql("SELECT participant_id, model, persona, status, status_reason, bot_settings "
                                      "FROM participants ORDER BY id_in_session")).mappings().all()
        assert [(row["model"], row["persona"], row["status"]) for row in rows] == [
            ("openai/alpha", None, "finished"), ("openai/beta", None, "finished"),
            ("llamacpp", "You work as a baker.", "finished")], rows
        queued = {row["model"]: json.loads(row["bot_settings"])["queue"] for row in rows}
        local = rows[2]["participant_id"]
        requests = [json.loads(text) for text in connection.execute(
            sql("SELECT request FROM llm_exchanges WHERE participant_id = :p"), {"p": local}).scalars()]
    assert queued == {"openai/alpha": "botex.openai", "openai/beta": "botex.openai", "llamacpp": "botex.llamacpp"}
    assert {request["model"] for request in fake_llm.requests} == {"alpha", "beta"}
    assert requests and all(request["model"] == "openai/llamacpp" for request in requests)
    assert "You work as a baker." in requests[0]["messages"][0]["content"]
    guesses = [row for row in read_responses_from_botex_db(db) if row["participant_id"] == local and row["question_id"] == "guess"]
    assert len(guesses) == 3 and all(0 <= int(row["answer"]) <= 100 for row in guesses)
    manifest = json.loads(export_study("local-and-stand-in", tmp_path / "data", botex_db=db).read_text())
    assert set(manifest["models"]) == {"openai/alpha", "openai/beta", "llamacpp"}
    assert manifest["models"]["llamacpp"]["settings"][0]["api_base"] == llamacpp_url


@pytest.mark.timeout(1200)
def test_two_bots_play_a_game_in_turns_to_its_end_on_the_local_model(
    otree_server: RunningOtree, llamacpp_url: str, sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "600")
    session = init_otree_session("race_game", 2, botex_db=sqlite_db, modified_session_config_fields={"race_target": 5})
    run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="llamacpp", api_base=llamacpp_url,
                        live_look_seconds=1.0)
    rows = read_participants_from_botex_db(session["session_id"], sqlite_db)
    assert [row["status"] for row in rows] == ["finished", "finished"], rows
    actions = read_actions_from_botex_db(sqlite_db, session["session_id"])
    assert {a["participant_id"] for a in actions if a["action"] == "press"} == {row["participant_id"] for row in rows}
    wide = OtreeClient(otree_server.url, otree_server.rest_key).export_wide(session["session_id"])
    assert all(position.done for position in positions_in_export(wide).values())
