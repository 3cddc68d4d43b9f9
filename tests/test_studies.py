"""Studies end to end: sessions of every arm, each bot with its position's model and persona."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Any

from sqlalchemy import text

from botex_core.store import get_engine
from botex_fleet import read_participants_from_botex_db, read_responses_from_botex_db
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM, prompt_tokens
from tests.support.headless import headless_chromium
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

    reported = run("botex-cli", "study", "report", "guessers", "-o", "guessers.html", env=env, cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    check_report(tmp_path / "guessers.html", data, manifest)

    again = run("botex-cli", "study", "run", str(tmp_path / "study.toml"), env=env, cwd=tmp_path)
    assert again.returncode == 1 and "a study named 'guessers' already" in again.stderr


def read_report(path: Path) -> dict[str, Any]:
    """What headless Chromium shows of the report: console messages, its images, and its tables' cells."""
    with headless_chromium() as browser:
        browser.get(path.as_uri())
        return {
            "console": browser.get_log("browser"),
            "images": browser.execute_script(
                "return [...document.images].map(i => ({src: i.src.slice(0, 26), complete: i.complete,"
                " width: i.naturalWidth, height: i.naturalHeight}))"),
            "external": browser.execute_script(
                "return [...document.querySelectorAll('script, link, iframe, [href]')].length"),
            "tables": browser.execute_script(
                "return [...document.querySelectorAll('table[data-table]')].map(t => ({kind: t.dataset.table,"
                " field: t.dataset.field || '', rows: [...t.querySelectorAll('tr[data-arm]')].map(r => ({"
                " arm: r.dataset.arm, model: r.dataset.model, cells: Object.fromEntries([...r.querySelectorAll("
                "'td[data-column], td[data-choice]')].map(c => [c.dataset.column || c.dataset.choice, c.textContent]))}))}))"),
        }


def check_report(path: Path, data: Path, manifest: dict[str, Any]) -> None:
    """The report loads with no console message and no outside resource, every plot is drawn, and the
    numbers it shows are the export's."""
    shown = read_report(path)
    assert shown["console"] == []
    assert shown["external"] == 0
    # Payoffs, and guess and is_winner each with their values and their means per round.
    assert len(shown["images"]) == 5
    assert all(image["src"].startswith("data:image/svg+xml") and image["complete"] and image["width"] > 100
               and image["height"] > 100 for image in shown["images"]), shown["images"]
    tables = {(table["kind"], table["field"]): {(row["arm"], row["model"]): row["cells"] for row in table["rows"]}
              for table in shown["tables"]}
    expected = {(row["arm"], row["model"]): row for row in manifest["by_arm_and_model"]}
    summary = tables[("summary", "")]
    assert set(summary) == set(expected) | {("all", "")}
    for group, row in expected.items():
        assert {column: int(summary[group][column].replace(",", "")) for column in
                ("bots", "finished", "pages", "answers", "llm_calls", "prompt_tokens", "completion_tokens")} == {
            "bots": row["bots"], "finished": row["by_status"]["finished"], "pages": row["pages"],
            "answers": row["answers"], "llm_calls": row["llm_calls"], "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"]}
    players = csv_rows(data / "otree_player.csv")
    guesses = {group: [float(row["guess"]) for row in players if (row["arm"], row["model"]) == group] for group in expected}
    assert {group: (cells["n"], cells["mean"]) for group, cells in tables[("means", "guess_two_thirds.guess")].items()} == {
        group: (str(len(values)), f"{statistics.fmean(values):,.2f}") for group, values in guesses.items()}
    payoffs: dict[str, float] = {}
    for row in players:
        payoffs[row["participant_code"]] = payoffs.get(row["participant_code"], 0.0) + float(row["payoff"])
    group_of = {row["participant_code"]: (row["arm"], row["model"]) for row in players}
    assert {group: cells["mean"] for group, cells in tables[("means", "payoff")].items()} == {
        group: f"{statistics.fmean(total for code, total in payoffs.items() if group_of[code] == group):,.2f}"
        for group in expected}
    winners = tables[("counts", "guess_two_thirds.is_winner")]
    assert {group: sum(map(int, cells.values())) for group, cells in winners.items()} == {
        group: len(values) for group, values in guesses.items()}


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


def test_a_dry_run_estimates_a_study_never_played_without_asking_an_llm(
    otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    from botex_core.llm.litellm_adapter import count_tokens

    db = tmp_path / "botex.sqlite3"
    env = study_env(otree_server, str(db))
    study = write_study(tmp_path, fake_llm.api_base)
    sessions_before = len(otree_sessions(otree_server))
    planned = run("botex-cli", "study", "plan", str(study), "--dry-run", env=env, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert fake_llm.requests == [], "a dry run asks no LLM"
    assert not db.exists(), "a dry run stores nothing"
    assert len(otree_sessions(otree_server)) == sessions_before + 2, "one session per arm"
    assert "dry run of arm mixed: 3 of 3 bot(s) finished" in planned.stderr
    rows = [line.split() for line in planned.stdout.splitlines()[1:-1]]
    assert [(words[0], words[-1], " ".join(words[-5:-1])) for words in rows] == [
        ("alike", "openai/alpha", "dry run, 3 bot(s)"), ("mixed", "openai/alpha", "dry run, 1 bot(s)"),
        ("mixed", "openai/beta", "dry run, 1 bot(s)"), ("mixed", "openai/gamma", "dry run, 1 bot(s)")]
    calls = sum(float(words[4]) for words in rows)
    prompt = sum(float(words[5]) for words in rows)

    assert run("botex-cli", "study", "run", str(study), env=env, cwd=tmp_path).returncode == 0
    played = [request for request in fake_llm.requests if request.get("messages")]
    assert calls == len(played), "the stand-in, like the dry run, has every answer taken at the first try"
    counted = sum(count_tokens(f"openai/{request['model']}", messages=request["messages"]) for request in played)
    # The stand-in's summaries, which later prompts carry, have 15 characters; the dry run's have 400.
    assert counted < prompt <= 1.3 * counted, (prompt, counted)


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


def test_a_replay_answers_every_request_from_the_stored_exchanges_and_gives_the_same_answers(
    otree_server: RunningOtree, tmp_path: Path
) -> None:
    llm = FakeLLM(random_numbers=True).start()
    try:
        db = str(tmp_path / "botex.sqlite3")
        env = study_env(otree_server, db)
        assert run("botex-cli", "study", "run", str(write_study(tmp_path, llm.api_base)), env=env, cwd=tmp_path).returncode == 0
        calls = len(llm.requests)
        guesses = {row["answer"] for row in read_responses_from_botex_db(db) if row["question_id"] == "guess"}
        assert len(guesses) > 3, "the stand-in drew the guesses at random"
        planned = run("botex-cli", "study", "plan", "study.toml", env=env, cwd=tmp_path).stdout

        replayed = run("botex-cli", "study", "replay", "guessers", env=env, cwd=tmp_path)
        assert replayed.returncode == 0, replayed.stderr
        assert len(llm.requests) == calls, "no request of the replay reached the stand-in"
        assert (f"replay guessers-replay of study guessers: {calls} request(s) answered from stored exchanges, "
                f"0 not (sent to the model); the answers of 9 of 9 bots equal their original's") in replayed.stdout
        rows = {row["participant_id"]: row for row in read_participants_from_botex_db(botex_db=db)}
        replay_bots = [row for row in rows.values() if row["study"] == "guessers-replay"]
        assert len(replay_bots) == 9 and all(row["status"] == "finished" for row in replay_bots)
        assert sorted((row["arm"], row["model"], row["persona"]) for row in replay_bots) == sorted(
            (row["arm"], row["model"], row["persona"]) for row in rows.values() if row["study"] == "guessers")
        assert run("botex-cli", "study", "export", "guessers-replay", "-o", "replayed", env=env, cwd=tmp_path).returncode == 0
        assert json.loads((tmp_path / "replayed" / "manifest.json").read_text())["replay_of"] == "guessers"
        shown = json.loads(run("botex-cli", "study", "status", "guessers-replay", "--json", env=env, cwd=tmp_path).stdout)
        assert sum(row["prompt_tokens"] + row["completion_tokens"] for row in shown) == 0
        # The replay's bots, which used no tokens, do not lower the estimate of the next study.
        assert run("botex-cli", "study", "plan", "study.toml", env=env, cwd=tmp_path).stdout == planned

        # One original bot's last exchange (after the game) is gone: a strict replay fails that bot,
        # asking no model; a lenient one asks the model for what is missing.
        with get_engine(db).begin() as connection:
            victim = connection.execute(text(
                "SELECT participant_id FROM participants WHERE study = 'guessers' AND arm = 'alike' LIMIT 1")).scalar()
            connection.execute(text("DELETE FROM llm_exchanges WHERE participant_id = :p AND phase = 'end'"), {"p": victim})
        strict = run("botex-cli", "study", "replay", "guessers", "--strict", env=env, cwd=tmp_path)
        assert strict.returncode == 1 and len(llm.requests) == calls
        assert "replay guessers-replay-2 of study guessers" in strict.stdout and "did not finish" in strict.stderr
        statuses = sorted((row["status"], row["status_reason"] or "") for row in read_participants_from_botex_db(botex_db=db)
                          if row["study"] == "guessers-replay-2")
        assert statuses == [("failed", "strict replay: ReplayMiss: no stored exchange answers this request")] + [
            ("finished", "")] * 8, statuses
        lenient = run("botex-cli", "study", "replay", "guessers", "--as", "lenient", env=env, cwd=tmp_path)
        assert lenient.returncode == 0, lenient.stderr
        asked = len(llm.requests) - calls
        assert asked > 0 and f", {asked} not (sent to the model)" in lenient.stdout
    finally:
        llm.stop()
