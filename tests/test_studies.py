"""Studies end to end: sessions of every arm, each bot with its position's model and persona."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from botex_fleet import read_participants_from_botex_db
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM, prompt_tokens
from tests.test_commands import clean_env, otree_sessions, run

STUDY = """
name = "guessers"

[[arms]]
name = "alike"
session_config = "guess_two_thirds"
participants = 3

[arms.bots]
model = "openai/alpha"
api_base = "{api_base}"
persona = "a retired teacher"

[[arms]]
name = "mixed"
session_config = "{config}"
sessions = 2
participants = 3

[[arms.positions]]
model = "openai/beta"
api_base = "{api_base}"
completion = {{ temperature = 0.3 }}

[[arms.positions]]
model = "openai/gamma"
api_base = "{api_base}"
persona = {{ csv = "people.csv", template = "a {{age}}-year-old {{job}}" }}

[[arms.positions]]
model = "openai/alpha"
api_base = "{api_base}"
"""


def study_env(otree_server: RunningOtree, botex_db: str) -> dict[str, str]:
    return clean_env(OTREE_SERVER_URL=otree_server.url, OTREE_REST_KEY=otree_server.rest_key, BOTEX_DB=botex_db,
                     OPENAI_API_KEY="sk-test-study")


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def write_study(tmp_path: Path, api_base: str, config: str = "guess_two_thirds") -> Path:
    (tmp_path / "people.csv").write_text("age,job\n24,nurse\n57,carpenter\n")
    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(api_base=api_base, config=config))
    return path


def test_a_study_runs_every_arm_with_the_models_and_personas_of_its_positions(
    otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = str(tmp_path / "botex.sqlite3")
    env = study_env(otree_server, db)
    result = run("botex-cli", "study", "run", str(write_study(tmp_path, fake_llm.api_base)), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "study guessers: all 9 bots finished" in result.stdout
    assert "arm mixed: bots 6/6 done (6 finished)" in result.stderr
    rows = [row for row in read_participants_from_botex_db(botex_db=db) if row["study"] == "guessers"]
    by_arm = {arm: [row for row in rows if row["arm"] == arm] for arm in ("alike", "mixed")}
    assert {row["model"] for row in by_arm["alike"]} == {"openai/alpha"} and len(by_arm["alike"]) == 3
    assert {row["persona"] for row in by_arm["alike"]} == {"a retired teacher"}
    assert sorted(row["model"] for row in by_arm["mixed"]) == ["openai/alpha"] * 2 + ["openai/beta"] * 2 + ["openai/gamma"] * 2
    assert sorted(filter(None, (row["persona"] for row in by_arm["mixed"]))) == ["a 24-year-old nurse", "a 57-year-old carpenter"]
    assert len({row["session_id"] for row in by_arm["mixed"]}) == 2
    assert all(row["status"] == "finished" for row in rows)
    # Every request went out with its bot's model, and a persona only to the bots that have one.
    systems = {request["model"]: set() for request in fake_llm.requests}
    for request in fake_llm.requests:
        systems[request["model"]].add(request["messages"][0]["content"].split(": ")[-1])
    assert set(systems) == {"alpha", "beta", "gamma"}
    assert "a retired teacher" in systems["alpha"] and "a 57-year-old carpenter" in systems["gamma"]
    assert all(request.get("temperature") == 0.3 for request in fake_llm.requests if request["model"] == "beta")

    shown = run("botex-cli", "study", "status", "guessers", "--json", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    counts = {(row["arm"], row["model"]): row for row in json.loads(shown.stdout)}
    assert {key: row["by_status"] for key, row in counts.items()} == {
        ("alike", "openai/alpha"): {"finished": 3}, ("mixed", "openai/alpha"): {"finished": 2},
        ("mixed", "openai/beta"): {"finished": 2}, ("mixed", "openai/gamma"): {"finished": 2},
    }
    assert sum(row["llm_calls"] for row in counts.values()) == len(fake_llm.requests)
    assert all(row["answers"] > 0 and row["prompt_tokens"] > 0 for row in counts.values())
    table = run("botex-cli", "study", "status", "guessers", env=env, cwd=tmp_path).stdout.splitlines()
    assert table[1].split()[:3] == ["alike", "openai/alpha", "3"]
    missing = run("botex-cli", "study", "status", "nobody", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "no study 'nobody'" in missing.stderr

    exported = run("botex-cli", "study", "export", "guessers", "-o", "data", env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    data = tmp_path / "data"
    participants = csv_rows(data / "botex_participants.csv")
    assert len(participants) == 9 and {row["study"] for row in participants} == {"guessers"}
    wide = csv_rows(data / "otree_wide.csv")
    assert len(wide) == 9
    by_code = {row["participant_id"]: row for row in participants}
    for row in wide + csv_rows(data / "otree_participant.csv"):
        code = row.get("participant.code") or row["participant_code"]
        assert (row["arm"], row["model"], row["persona"], row["bot_status"]) == (
            by_code[code]["arm"], by_code[code]["model"], by_code[code]["persona"], "finished")
    assert len(csv_rows(data / "botex_responses.csv")) == sum(row["answers"] for row in counts.values())
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["study_file"] == (tmp_path / "study.toml").read_text()
    assert {arm: len(codes) for arm, codes in manifest["sessions"].items()} == {"alike": 1, "mixed": 2}
    assert manifest["models"]["openai/beta"]["settings"][0]["completion_kwargs"] == {"temperature": 0.3}
    assert manifest["totals"]["by_status"] == {"finished": 9}
    assert manifest["otree_version"] and manifest["botex_fleet_version"] and len(manifest["prompts_sha256"]) == 64
    assert "sk-test-study" not in (data / "manifest.json").read_text() + (data / "botex_conversations.csv").read_text()

    again = run("botex-cli", "study", "run", str(tmp_path / "study.toml"), env=env, cwd=tmp_path)
    assert again.returncode == 1 and "a study named 'guessers' already" in again.stderr


def test_a_study_with_a_session_config_the_server_lacks_creates_nothing(
    otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = tmp_path / "botex.sqlite3"
    env = study_env(otree_server, str(db))
    before = len(otree_sessions(otree_server))
    result = run("botex-cli", "study", "run", str(write_study(tmp_path, fake_llm.api_base, "no_such_game")), env=env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "arms.1.session_config: the oTree server at" in lines[0], result.stderr
    assert "has no session config 'no_such_game'" in lines[0]
    assert len(otree_sessions(otree_server)) == before and not db.exists()
    assert fake_llm.requests == []


def test_the_plan_estimates_a_study_from_the_bots_that_ran_before_within_a_quarter(
    otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = str(tmp_path / "botex.sqlite3")
    env = study_env(otree_server, db)
    pilot = write_study(tmp_path, fake_llm.api_base)
    assert run("botex-cli", "study", "run", str(pilot), env=env, cwd=tmp_path).returncode == 0
    main = tmp_path / "main.toml"
    main.write_text(pilot.read_text().replace('name = "guessers"', 'name = "main"').replace("sessions = 2", "sessions = 1"))
    (tmp_path / "people.csv").write_text("age,job\n33,baker\n")
    planned = run("botex-cli", "study", "plan", str(main), env=env, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    estimate = {(words[0], words[-1]): (float(words[5]), float(words[6])) for words in map(str.split, planned.stdout.splitlines()[1:-1])}
    assert set(estimate) == {("alike", "openai/alpha"), ("mixed", "openai/alpha"), ("mixed", "openai/beta"), ("mixed", "openai/gamma")}
    seen = len(fake_llm.requests)
    assert run("botex-cli", "study", "run", str(main), env=env, cwd=tmp_path).returncode == 0
    counted = sum(prompt_tokens(request) for request in fake_llm.requests[seen:])
    planned_tokens = sum(prompt for prompt, _ in estimate.values())
    assert abs(planned_tokens - counted) <= 0.25 * counted, (planned_tokens, counted)


def test_a_study_submitted_to_the_fleet_puts_each_bot_on_its_providers_queue(
    fleet_env: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    from tests.support.fleet import cli
    from tests.support.workers import Workers

    study = write_study(tmp_path, fake_llm.api_base)
    study.write_text(study.read_text().replace('model = "openai/gamma"', 'model = "hosted_vllm/gamma"'))
    workers = Workers(fleet_env, tmp_path)
    try:
        workers.start("openai", concurrency=6, queues="botex.openai")
        workers.start("vllm", concurrency=2, queues="botex.hosted_vllm")
        result = cli(fleet_env, "study", "submit", str(study), "--wait", timeout=240)
        assert result.returncode == 0, result.stderr + workers.logs()
    finally:
        workers.stop_all()
    assert "study guessers: all 9 bots finished" in result.stdout
    rows = read_participants_from_botex_db(botex_db=fleet_env["BOTEX_DB"])
    assert sorted(row["model"] for row in rows if row["study"] == "guessers") == (
        ["hosted_vllm/gamma"] * 2 + ["openai/alpha"] * 5 + ["openai/beta"] * 2)
    vllm_log = (tmp_path / "vllm.log").read_text()
    assert vllm_log.count(" succeeded in ") == 2, "the hosted_vllm worker ran exactly the hosted_vllm bots"
