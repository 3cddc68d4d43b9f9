"""The oTree interface against the real example server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from botex_fleet import (
    ConfigurationError,
    OtreeAuthError,
    OtreeError,
    OtreeUnreachableError,
    get_bot_urls,
    get_session_configs,
    init_otree_session,
    load_botex_env,
    otree_server_is_running,
    read_participants_from_botex_db,
    start_otree_server,
    stop_otree_server,
)
from tests.conftest import EXAMPLE_PROJECT, RunningOtree
from tests.support.services import free_port


def group_is_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def test_session_configs_list_the_example_apps(otree_server: RunningOtree) -> None:
    configs = {c["name"]: c for c in get_session_configs(otree_server.url, otree_server.rest_key)}
    assert set(configs) == {"widgets_pair", "guess_two_thirds", "contribution_pair", "widgets_then_guess",
                            "experimenter_paced", "race_game", "double_auction", "chat_claim", "pretest_trouble",
                            "live_price"}
    assert configs["widgets_then_guess"]["app_sequence"] == ["widgets_pair", "guess_two_thirds"]


def test_running_check_needs_the_right_key(otree_server: RunningOtree) -> None:
    assert otree_server_is_running(otree_server.url, otree_server.rest_key)
    assert not otree_server_is_running(otree_server.url, "wrong-key")
    assert not otree_server_is_running(f"http://127.0.0.1:{free_port()}", otree_server.rest_key)


def test_session_with_humans_is_stored(otree_server: RunningOtree, botex_db: str) -> None:
    result = init_otree_session("guess_two_thirds", 6, nhumans=2, botex_db=botex_db)
    assert len(result["participant_code"]) == 6
    assert sum(result["is_human"]) == 2
    assert len(result["bot_urls"]) == 4 and len(result["human_urls"]) == 2
    assert all(url.startswith(f"{otree_server.url}/InitializeParticipant/") for url in result["bot_urls"])
    rows = read_participants_from_botex_db(result["session_id"], botex_db)
    assert {r["participant_id"] for r in rows} == set(result["participant_code"])
    assert {r["url"] for r in rows if r["is_human"]} == set(result["human_urls"])
    assert all(r["session_name"] == "guess_two_thirds" for r in rows)
    assert sorted(get_bot_urls(result["session_id"], botex_db)) == sorted(result["bot_urls"])
    assert requests.get(result["bot_urls"][0], timeout=10).ok  # a real participant link


def test_is_human_places_the_humans(otree_server: RunningOtree, sqlite_db: str) -> None:
    flags = [True, False, False]
    result = init_otree_session("guess_two_thirds", 3, is_human=flags, botex_db=sqlite_db)
    assert result["is_human"] == flags
    assert result["human_urls"] == [f"{otree_server.url}/InitializeParticipant/{result['participant_code'][0]}"]


def test_modified_session_config_fields_reach_otree(otree_server: RunningOtree, sqlite_db: str) -> None:
    result = init_otree_session(
        "widgets_pair", 2, botex_db=sqlite_db, modified_session_config_fields={"participation_fee": 7.5}
    )
    info = requests.get(
        f"{otree_server.url}/api/sessions/{result['session_id']}",
        headers={"otree-rest-key": otree_server.rest_key},
        timeout=10,
    ).json()
    assert info["config"]["participation_fee"] == 7.5


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"config_name": "no_such_config", "npart": 2}, OtreeError, "no_such_config"),
        ({"config_name": "widgets_pair", "npart": 3}, OtreeError, "not a multiple of group size"),
        ({"config_name": "widgets_pair", "npart": 2, "nhumans": 3}, ConfigurationError, "exceeds"),
        ({"config_name": "widgets_pair", "npart": 2, "is_human": [True]}, ConfigurationError, "is_human has 1"),
        ({"config_name": "widgets_pair", "npart": 2, "nhumans": 1, "is_human": [True, False]}, ConfigurationError, "not both"),
        ({"config_name": "widgets_pair", "npart": 0}, ConfigurationError, "npart"),
        ({"config_name": "widgets_pair", "npart": 2, "otree_rest_key": "wrong"}, OtreeAuthError, "REST key"),
    ],
)
def test_bad_input_raises_and_leaves_no_rows(
    otree_server: RunningOtree, botex_db: str, arguments: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        init_otree_session(botex_db=botex_db, **arguments)
    assert read_participants_from_botex_db(botex_db=botex_db) == []


def test_unreachable_otree_is_named(sqlite_db: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(OtreeUnreachableError, match=f"{url} is unreachable"):
        init_otree_session("widgets_pair", 2, botex_db=sqlite_db, otree_server_url=url)
    with pytest.raises(OtreeUnreachableError):
        get_session_configs(url)
    assert read_participants_from_botex_db(botex_db=sqlite_db) == []


def test_server_start_and_stop_leave_no_process(otree_executable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    subprocess.run(["cp", "-r", str(EXAMPLE_PROJECT), str(project)], check=True)
    monkeypatch.setenv("OTREE_EXECUTABLE", otree_executable)
    monkeypatch.delenv("OTREE_AUTH_LEVEL", raising=False)
    monkeypatch.delenv("OTREE_REST_KEY", raising=False)
    monkeypatch.setenv("OTREE_SERVER_URL", "http://unused")
    port = free_port()
    process = start_otree_server(str(project), port, str(tmp_path / "otree.log"), timeout=60)
    url = f"http://localhost:{port}"
    assert os.environ["OTREE_SERVER_URL"] == url
    assert otree_server_is_running()
    children = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 2  # devserver and its worker process

    with pytest.raises(ConfigurationError, match=f"port {port} is already in use"):
        start_otree_server(str(project), port, str(tmp_path / "second.log"), timeout=5)

    stop_otree_server(process)
    assert group_is_gone(process.pid)
    assert not otree_server_is_running(url)
    assert (project / "db.sqlite3").exists()  # stopped like Control+C: oTree saved its data
    assert stop_otree_server(process) == process.returncode


def test_start_refuses_bad_settings(tmp_path: Path, otree_executable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTREE_PROJECT_PATH", raising=False)
    with pytest.raises(ConfigurationError, match="OTREE_PROJECT_PATH"):
        start_otree_server(otree_executable=otree_executable)
    with pytest.raises(ConfigurationError, match="not an oTree project"):
        start_otree_server(str(tmp_path), otree_executable=otree_executable)
    with pytest.raises(ConfigurationError, match="not found"):
        start_otree_server(str(EXAMPLE_PROJECT), otree_executable=str(tmp_path / "no-otree"))


def test_a_crashing_server_reports_its_log(tmp_path: Path, otree_executable: str) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "settings.py").write_text("raise RuntimeError('settings are broken')\n")
    with pytest.raises(OtreeError, match="exited with code"):
        start_otree_server(str(project), free_port(), str(tmp_path / "o.log"), timeout=60, otree_executable=otree_executable)


def test_load_botex_env_sets_only_unset_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "botex.env"
    env_file.write_text("BOTEX_TEST_NEW=from-file\nBOTEX_TEST_SET=from-file\n")
    monkeypatch.delenv("BOTEX_TEST_NEW", raising=False)
    monkeypatch.setenv("BOTEX_TEST_SET", "from-environment")
    assert load_botex_env(str(env_file)) is True
    assert os.environ["BOTEX_TEST_NEW"] == "from-file"
    assert os.environ["BOTEX_TEST_SET"] == "from-environment"
    assert load_botex_env(str(tmp_path / "missing.env")) is False
    monkeypatch.delenv("BOTEX_TEST_NEW")
