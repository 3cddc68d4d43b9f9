"""What the study report reads from an export: fields by kind, means per round, payoffs, reasons."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from botex_fleet.report.data import Interval, read_study_export
from botex_fleet.report.page import render_report

GROUPS = [("a", "m1"), ("b", "m2")]


def write(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    counts = {"bots": 2, "by_status": {"finished": 2}, "answers": 6, "pages": 8, "llm_calls": 9,
              "prompt_tokens": 900, "completion_tokens": 90, "cost_usd": None}
    (tmp_path / "manifest.json").write_text(json.dumps({
        "study": "s", "started": "t0", "exported": "t1", "otree_version": "6", "botex_fleet_version": "0.1",
        "prompts_sha256": "0" * 64, "sessions": {"a": ["x"], "b": ["y"]},
        "by_arm_and_model": [{"arm": arm, "model": model, **counts} for arm, model in GROUPS], "totals": counts}))
    # The server's other app ("quiz") shows up in the wide table with no data.
    write(tmp_path / "otree_wide.csv", [{"arm": "a", "model": "m1", "participant.code": code,
                                         "quiz.1.player.score": "", "game.1.player.guess": "1"} for code in "pq"])
    players = []
    for code, (arm, model) in zip(["p1", "p2", "q1", "q2"], [GROUPS[0], GROUPS[0], GROUPS[1], GROUPS[1]]):
        for round_number in (1, 2):
            guess = {"p1": 10, "p2": 20, "q1": 60, "q2": 80}[code] + round_number
            players.append({"participant_code": code, "round": round_number, "player_id": 1, "payoff": 5 * round_number,
                            "guess": guess, "won": int(guess > 50), "note": f"{code} text {round_number}",
                            "arm": arm, "model": model, "persona": "", "bot_status": "finished"})
    write(tmp_path / "otree_player.csv", players)
    write(tmp_path / "botex_participants.csv", [{"participant_id": code, "arm": arm, "model": model}
                                                for code, (arm, model) in zip(["p1", "q1"], GROUPS)])
    write(tmp_path / "botex_responses.csv", [
        {"participant_id": code, "round": 1, "question_id": "guess", "answer": answer, "reason": reason}
        for code, answer, reason in [("p1", "11", "low"), ("p1", "12", "lower"), ("q1", "61", "high"), ("q1", "62", "")]])
    return tmp_path


def test_the_report_reads_fields_by_kind_with_means_per_round_payoffs_and_reasons(export: Path) -> None:
    data = read_study_export(export)
    fields = {field.name: field for field in data.fields}
    assert {(name, field.app, field.numeric, field.shown_as) for name, field in fields.items()} == {
        ("guess", "game", True, "box"), ("won", "game", True, "bars"), ("note", "game", False, "text")}
    assert fields["guess"].interval(GROUPS[0]).mean == pytest.approx(16.5)
    assert fields["guess"].by_round[GROUPS[1]] == {1: [61.0, 81.0], 2: [62.0, 82.0]}
    assert fields["won"].counts(GROUPS[1]) == {"1": 4} and fields["won"].choices() == ["0", "1"]
    assert data.payoffs == {GROUPS[0]: [15.0, 15.0], GROUPS[1]: [15.0, 15.0]}
    assert [(reason.group, reason.answer) for reason in data.reasons["guess"]] == [(GROUPS[0], "11"), (GROUPS[1], "61"),
                                                                                   (GROUPS[0], "12")]
    html = render_report(data)
    assert html.count("<img class=\"plot\"") == 1 + 2 + 2  # payoffs; guess and won with their rounds
    assert 'data-field="game.guess"' in html and "p1 text 1" in html


def test_an_interval_is_the_mean_plus_minus_two_standard_errors() -> None:
    interval = Interval.of([1.0, 2.0, 3.0])
    assert (interval.n, interval.mean) == (3, 2.0)
    assert interval.high - interval.mean == pytest.approx(1.96 * 1.0 / 3 ** 0.5)
    assert Interval.of([4.0]) == Interval(1, 4.0, 4.0, 4.0)
