"""The commands on one machine: ``botex`` (with and without a person at the terminal) and ``botex-cli run``,
``status``, ``export`` and ``llamacpp``, against the real oTree server and the stand-in LLM."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from botex_fleet import read_participants_from_botex_db
from botex_core.costs import estimated_cost
from botex_core.store import get_engine
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM

BIN = Path(sys.executable).parent
PRICED_MODEL = "gpt-4o-mini"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any botex, oTree, LLM or fleet setting, plus ``extra``."""
    prefixes = ("BOTEX_", "OTREE_", "LLM_", "API_", "LLAMACPP_", "OPENAI_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    return {**env, "BOTEX_LLM_BACKOFF_SECONDS": "0.05", "BOTEX_WAIT_TIMEOUT": "60", **extra}


def run(command: str, *arguments: str, env: dict[str, str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / command), *arguments], env=env, cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def otree_options(otree_server: RunningOtree) -> list[str]:
    return ["-u", otree_server.url, "-r", otree_server.rest_key]


@pytest.mark.parametrize(
    ("missing", "option"),
    [("model", "-m/--model"), ("api key", "-k/--api-key"), ("session config", "-s/--session-config"),
     ("export file", "-e/--export-csv-file")],
)
def test_botex_without_a_terminal_names_the_missing_option(
    missing: str, option: str, otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    given = {
        "model": ["-m", "openai/stand-in", "-a", fake_llm.api_base],
        "api key": ["-k", "sk-given"],
        "session config": ["-s", "widgets_pair"],
        "export file": ["-e", "answers.csv"],
    }
    arguments = [argument for name, pair in given.items() if name != missing for argument in pair]
    result = run("botex", "-i", "-b", "botex.sqlite3", *otree_options(otree_server), *arguments,
                 env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error:") and option in error and "no terminal" in error
    assert read_participants_from_botex_db(botex_db=str(tmp_path / "botex.sqlite3")) == []
    assert fake_llm.requests == []


def test_botex_with_an_unreachable_otree_or_unknown_config_fails_clearly(otree_server: RunningOtree, tmp_path: Path) -> None:
    common = ["-i", "-m", "openai/stand-in", "-k", "sk-given", "-a", "http://127.0.0.1:9", "-e", "a.csv", "-b", "botex.sqlite3"]
    unreachable = run("botex", *common, "-u", "http://127.0.0.1:9", "-s", "widgets_pair", env=clean_env(), cwd=tmp_path)
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip() == "Error: oTree server at http://127.0.0.1:9 is not reachable"
    unknown = run("botex", *common, *otree_options(otree_server), "-s", "no_such_game", env=clean_env(), cwd=tmp_path)
    assert unknown.returncode == 1
    assert "unknown session config 'no_such_game'" in unknown.stderr and "widgets_pair" in unknown.stderr


def test_botex_from_a_config_file_runs_the_session(otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path) -> None:
    (tmp_path / "lab.env").write_text(
        f"OTREE_SERVER_URL={otree_server.url}\nOTREE_REST_KEY={otree_server.rest_key}\n"
        f"LLM_MODEL=openai/stand-in\nAPI_BASE={fake_llm.api_base}\nAPI_KEY=sk-from-the-config-file\n"
        "OTREE_SESSION_CONFIG=widgets_pair\nBOTEX_DB=lab.sqlite3\n"
    )
    result = run("botex", "-c", "lab.env", "-e", "answers.csv", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    participants = read_participants_from_botex_db(botex_db=str(tmp_path / "lab.sqlite3"))
    assert len(participants) == 2 and {p["status"] for p in participants} == {"finished"}
    answers = rows(tmp_path / "answers.csv")
    assert len(answers) == 2 * 10 and all(row["reason"] for row in answers)
    assert "bots 2/2 done" in result.stderr
    assert "sk-from-the-config-file" not in result.stdout + result.stderr
    assert set(fake_llm.authorizations) == {"Bearer sk-from-the-config-file"}


def test_botex_asks_the_person_at_the_terminal(otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path) -> None:
    arguments = ["-i", "-b", "botex.sqlite3", *otree_options(otree_server), "-a", fake_llm.api_base]
    env = clean_env(BOTEX_WAIT_TIMEOUT="10")
    child = pexpect.spawn(str(BIN / "botex"), arguments, env=env, cwd=str(tmp_path), encoding="utf-8", timeout=30)
    child.logfile_read = transcript = io.StringIO()
    try:
        child.expect(r"LLM model .*: ")
        child.sendline("openai/stand-in")
        child.expect(r"API key for openai/stand-in \(OPENAI_API_KEY is not set\): ")
        child.sendline("sk-typed-at-the-terminal")
        child.expect(r"(\d+): widgets_pair\r\n")
        widgets_pair = child.match.group(1)
        child.expect(r"Session config \(number\): ")
        child.sendline("99")
        child.expect(r"not in the range")
        child.sendline(widgets_pair)
        child.expect(r"Human participants \[0\]: ")
        child.sendline("1")
        child.expect(r"human: (http\S+)")
        child.expect(r"Enter to skip\): ", timeout=240)
        child.sendline("answers.csv")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 1, transcript.getvalue()  # the bot's partner is a human who never came
    participants = read_participants_from_botex_db(botex_db=str(tmp_path / "botex.sqlite3"))
    assert sorted(p["is_human"] for p in participants) == [0, 1]
    bot = next(p for p in participants if not p["is_human"])
    assert bot["status"] == "abandoned"
    assert rows(tmp_path / "answers.csv")  # what the bot answered before it waited in vain
    assert "sk-typed-at-the-terminal" not in transcript.getvalue()
    assert set(fake_llm.authorizations) == {"Bearer sk-typed-at-the-terminal"}


def test_run_status_and_exports_on_one_machine(otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path) -> None:
    env = clean_env(OTREE_SERVER_URL=otree_server.url, OTREE_REST_KEY=otree_server.rest_key,
                    BOTEX_DB=str(tmp_path / "botex.sqlite3"), OPENAI_API_KEY="sk-test-run")
    result = run("botex-cli", "run", "-s", "widgets_pair", "-p", "2", "-m", PRICED_MODEL, "-a", fake_llm.api_base,
                 "-o", "data", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    session = result.stdout.split()[1].rstrip(":")
    exported = {path.name for path in (tmp_path / "data").iterdir()}
    assert {"botex_participants.csv", "botex_responses.csv", "otree_wide.csv", "otree_participant.csv"} <= exported
    assert len(rows(tmp_path / "data" / "botex_responses.csv")) == 2 * 10

    progress = json.loads(run("botex-cli", "status", session, "--json", env=env, cwd=tmp_path).stdout)[session]
    assert progress["by_status"] == {"finished": 2}
    assert progress["pages"] == 2 * 4
    assert progress["prompt_tokens"] > 0
    expected = estimated_cost(PRICED_MODEL, progress["prompt_tokens"], progress["completion_tokens"])
    assert expected and progress["cost_usd"] == pytest.approx(expected)
    table = run("botex-cli", "status", env=env, cwd=tmp_path).stdout.splitlines()
    assert table[0].split() == ["session", "bots", "queued", "running", "finished", "failed", "abandoned",
                                "pages", "answers", "actions", "calls", "tokens", "cost", "$"]
    assert table[1].split()[:7] == [session, "2", "0", "0", "2", "0", "0"]

    exported = run("botex-cli", "export", "conversations", "conversations.csv", "--session", session, env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    conversations = rows(tmp_path / "conversations.csv")
    assert len(conversations) == 2
    assert all(json.loads(row["bot_parms"])["model"] == PRICED_MODEL for row in conversations)
    assert all("sk-test-run" not in row["bot_parms"] + row["conversation"] for row in conversations)


def test_llamacpp_start_and_stop(local_model_paths: tuple[str, str], tmp_path: Path) -> None:
    server, model = local_model_paths
    env = clean_env(LLAMACPP_SERVER_PATH=server, LLAMACPP_LOCAL_LLM_PATH=model)
    started = run("botex-cli", "llamacpp", "start", "--server-url", "http://127.0.0.1:18089", env=env, cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    pid = json.loads((tmp_path / "llamacpp.pid").read_text())["pid"]
    assert Path(f"/proc/{pid}").exists()
    again = run("botex-cli", "llamacpp", "start", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "llamacpp.pid exists" in again.stderr
    stopped = run("botex-cli", "llamacpp", "stop", env=env, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(f"/proc/{pid}").exists() and not (tmp_path / "llamacpp.pid").exists()
    missing = run("botex-cli", "llamacpp", "stop", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip().startswith("Error: llamacpp.pid does not exist")


def test_run_fails_when_a_bot_did_not_finish_and_still_exports(otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path) -> None:
    env = clean_env(OTREE_SERVER_URL=otree_server.url, OTREE_REST_KEY=otree_server.rest_key, OPENAI_API_KEY="sk-test",
                    BOTEX_WAIT_TIMEOUT="5")
    result = run("botex-cli", "run", "-s", "widgets_pair", "-p", "2", "-n", "1", "-m", "openai/stand-in",
                 "-a", fake_llm.api_base, "-o", "data", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: 1 of 1 bots did not finish; see 'botex-cli status ")
    assert (tmp_path / "data" / "botex_participants.csv").exists()


@pytest.mark.parametrize(("arguments", "error"), [
    (["-b", "postgresql://botex:SECRET-PW@127.0.0.1:9/botex"], "Error: cannot reach botex database 'postgresql+psycopg://botex:***@127.0.0.1:9/botex'"),
    (["-b", "nosuchdialect://x/y"], "Error: cannot use botex database 'nosuchdialect://x/y'"),
    (["-b", "no/such/folder/botex.sqlite3"], "Error: cannot reach botex database 'sqlite:///"),
    (["-o", "/etc/passwd/data"], "Error: cannot write /etc/passwd/data"),
    (["-m", "mymodel"], "Error: the fleet knows no LLM provider of model 'mymodel'"),
    (["-r", "wrong-rest-key"], "rejected the REST key"),
], ids=["database password", "database dialect", "database folder", "output", "provider", "rest key"])
def test_bad_input_to_run_is_one_line_and_makes_nothing(
    arguments: list[str], error: str, otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    env = clean_env(OTREE_SERVER_URL=otree_server.url, OTREE_REST_KEY=otree_server.rest_key, OPENAI_API_KEY="sk-test",
                    BOTEX_DB=str(tmp_path / "botex.sqlite3"))
    defaults = {"-m": "openai/stand-in", "-o": "data"}
    given = dict(zip(arguments[::2], arguments[1::2]))
    options = [part for option, value in {**defaults, **given}.items() for part in (option, value)]
    sessions_before = len(otree_sessions(otree_server))
    result = run("botex-cli", "run", "-s", "widgets_pair", "-p", "2", "-a", fake_llm.api_base, *options, env=env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and error in lines[0], result.stderr
    assert "SECRET-PW" not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()
    assert len(otree_sessions(otree_server)) == sessions_before
    assert fake_llm.requests == []


def otree_sessions(otree_server: RunningOtree) -> list[dict]:
    import requests

    response = requests.get(f"{otree_server.url}/api/sessions", headers={"otree-rest-key": otree_server.rest_key}, timeout=10)
    response.raise_for_status()
    return response.json()


def test_botex_tells_a_rejected_rest_key_from_an_unreachable_server(otree_server: RunningOtree, tmp_path: Path) -> None:
    result = run("botex", "-i", "-m", "openai/stand-in", "-k", "sk-given", "-a", "http://127.0.0.1:9", "-e", "a.csv",
                 "-b", "botex.sqlite3", "-u", otree_server.url, "-r", "wrong-rest-key", "-s", "widgets_pair",
                 env=clean_env(), cwd=tmp_path)
    assert result.returncode == 1
    assert "rejected the REST key" in result.stderr and "not reachable" not in result.stderr


@pytest.mark.parametrize("command", [["status"], ["export", "responses", "responses.csv"], ["retry", "abcd1234"]])
def test_commands_that_read_the_store_refuse_a_missing_one_and_create_none(command: list[str], tmp_path: Path) -> None:
    result = run("botex-cli", *command, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: no botex database at 'botex.sqlite3': run where it is, or give it with --botex-db or BOTEX_DB"
    ]
    assert list(tmp_path.iterdir()) == []


def test_study_plan_shows_the_bots_per_arm_and_model_and_refuses_a_bad_file_in_one_line(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "studies" / "guess_models.toml"
    shown = run("botex-cli", "study", "plan", str(example), env=clean_env(), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert ["three-models", "guess_two_thirds", "2", "2", "?", "?", "?", "?", "none", "llamacpp"] in [
        line.split() for line in shown.stdout.splitlines()]
    assert shown.stdout.strip().endswith("study guess-models: 2 arm(s), 4 session(s), 12 bot(s), estimated cost unknown")
    bad = tmp_path / "bad.toml"
    bad.write_text(example.read_text().replace("sessions = 2", "sessions = 0", 1))
    refused = run("botex-cli", "study", "plan", str(bad), env=clean_env(), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [f"Error: {bad}: arms.0.sessions: Input should be greater than or equal to 1"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.toml"]


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be written into: a read-only mount for root (who may write anywhere else)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)], check=True)
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_bad_input_to_status_and_export_is_one_line_and_writes_nothing(
    otree_server: RunningOtree, read_only_folder: Path, tmp_path: Path
) -> None:
    store = tmp_path / "botex.sqlite3"
    get_engine(str(store))
    cases = {
        ("status", "-b", "postgresql+psycopg://::nonsense-pw"):
            "Error: cannot use botex database 'postgresql+psycopg://...': not a database URL",
        ("export", "responses", f"{read_only_folder}/r.csv", "-b", str(store)):
            f"Error: cannot write {read_only_folder}/r.csv: Read-only file system",
        ("export", "participants", f"{read_only_folder}/p.csv", "-b", str(store)):
            f"Error: cannot write {read_only_folder}/p.csv: Read-only file system",
        ("export", "otree", f"{read_only_folder}/w.csv", *otree_options(otree_server)):
            f"Error: cannot write {read_only_folder}/w.csv: Read-only file system",
    }
    if os.geteuid() != 0:
        cases = {command: error.replace("Read-only file system", "Permission denied") for command, error in cases.items()}
    for command, error in cases.items():
        result = run("botex-cli", *command, env=clean_env(), cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(error), (command, result.stderr)
        assert "nonsense-pw" not in result.stderr
    assert list(read_only_folder.iterdir()) == []
