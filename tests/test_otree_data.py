"""oTree's wide export and its normalisation, on sessions really played on the example server."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from botex_fleet import (
    DataFormatError,
    OtreeAuthError,
    export_otree_data,
    init_otree_session,
    normalize_otree_data,
)
from tests.conftest import RunningOtree
from tests.support.http_player import play_session

WIDGET_ANSWERS = {
    "nickname": "Ann",
    "motivation": "I like experiments, and I was curious.",
    "age": "34",
    "expected_share": "0.45",
    "likes_puzzles": "True",
    "favourite_colour": "Blue",
    "risk_attitude": "2",
    "trust": "4",
    "consent": "on",
    "cooperate": "True",
}


def answers_for(position: int) -> dict[str, str]:
    """Answers that differ per participant: guesses 10, 20, 30, ... and alternating decisions."""
    answers = dict(WIDGET_ANSWERS, guess=str(10 * (position + 1)))
    answers["cooperate"] = "True" if position % 2 == 0 else "False"
    return answers


@pytest.fixture(scope="module")
def played_sessions(otree_server: RunningOtree, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A finished widgets_pair session (2 players) and a finished chained session (6 players)."""
    db = str(tmp_path_factory.mktemp("played") / "botex.sqlite3")
    codes = {}
    for config, size in (("widgets_pair", 2), ("widgets_then_guess", 6)):
        session = init_otree_session(config, size, botex_db=db)
        play_session([(url, answers_for(i)) for i, url in enumerate(session["bot_urls"])])
        codes[config] = session["session_id"]
    return codes


@pytest.fixture(scope="module")
def wide_csvs(played_sessions: dict[str, str], otree_server: RunningOtree, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wide")
    paths = {}
    for config, code in played_sessions.items():
        paths[config] = folder / f"{config}.csv"
        export_otree_data(str(paths[config]), session_id=code)
    return paths


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as file:
        return list(csv.DictReader(file))


def test_wide_export_holds_what_was_played(wide_csvs: dict[str, Path], played_sessions: dict[str, str]) -> None:
    rows = read_rows(wide_csvs["widgets_pair"])
    assert len(rows) == 2
    assert {r["session.code"] for r in rows} == {played_sessions["widgets_pair"]}
    assert [r["widgets_pair.1.player.cooperate"] for r in rows] == ["1", "0"]
    assert rows[0]["widgets_pair.1.player.motivation"] == WIDGET_ANSWERS["motivation"]
    assert {r["participant._current_page_name"] for r in rows} == {"Goodbye"}
    chained = read_rows(wide_csvs["widgets_then_guess"])
    assert len(chained) == 6
    assert [r["guess_two_thirds.3.player.guess"] for r in chained] == ["10", "20", "30", "40", "50", "60"]


def test_export_all_sessions_through_the_admin_login(
    played_sessions: dict[str, str], otree_server: RunningOtree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTREE_REST_KEY")
    target = tmp_path / "all.csv"
    export_otree_data(str(target), admin_password=otree_server.admin_password)
    sessions = {r["session.code"] for r in read_rows(target)}
    assert set(played_sessions.values()) <= sessions


def test_export_without_key_or_password_fails_clearly(
    otree_server: RunningOtree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTREE_REST_KEY")
    monkeypatch.delenv("OTREE_ADMIN_PASSWORD")
    target = tmp_path / "none.csv"
    with pytest.raises(OtreeAuthError, match="needs a REST key"):
        export_otree_data(str(target))
    with pytest.raises(OtreeAuthError, match="rejected the admin login"):
        export_otree_data(str(target), admin_password="not-the-password")
    with pytest.raises(OtreeAuthError, match="rejected the REST key"):
        export_otree_data(str(target), rest_key="not-the-key")
    assert not target.exists()


def test_normalise_a_single_app(wide_csvs: dict[str, Path], played_sessions: dict[str, str]) -> None:
    tables = normalize_otree_data(str(wide_csvs["widgets_pair"]))
    assert set(tables) == {"participant", "session", "group", "player"}
    code = played_sessions["widgets_pair"]
    assert tables["session"][0]["session_code"] == code and len(tables["session"]) == 2
    assert list(tables["participant"][0]) == ["participant_code", "current_app", "current_page", "time_started_utc"]
    assert tables["group"] == [{"session_code": code, "round": 1, "cooperators": 1}]
    players = tables["player"]
    assert len(players) == 2
    assert list(players[0])[:3] == ["participant_code", "round", "player_id"]
    assert [p["cooperate"] for p in players] == [1, 0]
    assert [p["payoff"] for p in players] == [0, 90]
    assert players[0]["expected_share"] == 0.45 and players[0]["age"] == 34
    assert players[0]["favourite_colour"] == "Blue"


def test_normalise_chained_apps_with_several_rounds_and_groups(wide_csvs: dict[str, Path], played_sessions: dict[str, str]) -> None:
    tables = normalize_otree_data(str(wide_csvs["widgets_then_guess"]))
    assert set(tables) == {
        "participant", "session", "widgets_pair_group", "widgets_pair_player",
        "guess_two_thirds_group", "guess_two_thirds_player",
    }
    assert len(tables["participant"]) == 6
    guesses = tables["guess_two_thirds_player"]
    assert len(guesses) == 18  # 6 players x 3 rounds
    assert list(guesses[0])[:4] == ["participant_code", "round", "group_id", "player_id"]
    assert sorted({p["round"] for p in guesses}) == [1, 2, 3]
    groups = tables["guess_two_thirds_group"]
    assert len(groups) == 6  # 2 groups x 3 rounds
    assert list(groups[0])[:3] == ["session_code", "round", "group_id"]
    by_group = {(g["round"], g["group_id"]): g for g in groups}
    for player in guesses:
        group = by_group[(player["round"], player["group_id"])]
        assert player["is_winner"] == int(player["guess"] == group["best_guess"])
    assert len(tables["widgets_pair_group"]) == 3  # 3 pairs in one round
    assert len(tables["widgets_pair_player"]) == 6


def test_var_dict_selects_and_renames(wide_csvs: dict[str, Path]) -> None:
    var_dict = {
        "participant": {"code": "participant_code", "payoff": "total_payoff"},
        "session": {"code": "session_code"},
        "guess_two_thirds": {"player": {"guess": "number"}, "group": {"two_thirds_avg": "target"}},
    }
    tables = normalize_otree_data(str(wide_csvs["widgets_then_guess"]), var_dict=var_dict)
    assert list(tables["participant"][0]) == ["participant_code", "total_payoff"]
    assert set(tables["guess_two_thirds_player"][0]) == {"participant_code", "round", "group_id", "player_id", "number"}
    assert set(tables["guess_two_thirds_group"][0]) == {"session_code", "round", "group_id", "target"}
    assert "nickname" in tables["widgets_pair_player"][0]  # apps without an entry keep everything


def test_store_as_csv_with_prefix(wide_csvs: dict[str, Path], tmp_path: Path) -> None:
    tables = normalize_otree_data(str(wide_csvs["widgets_pair"]), store_as_csv=True, data_exp_path=str(tmp_path), exp_prefix="pilot")
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["pilot_group.csv", "pilot_participant.csv", "pilot_player.csv", "pilot_session.csv"]
    player_rows = read_rows(tmp_path / "pilot_player.csv")
    assert len(player_rows) == len(tables["player"])
    assert player_rows[0]["motivation"] == WIDGET_ANSWERS["motivation"]


def test_an_empty_file_is_a_data_format_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFormatError, match="is empty"):
        normalize_otree_data(str(empty))
