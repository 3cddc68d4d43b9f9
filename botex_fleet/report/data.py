"""What the study report shows, read from a study's export: groups of bots by arm and model, the
player fields of every app with their values per group (and per round), payoffs and reasons."""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# Columns of oTree's player tables that say who and when, not what a player chose.
STRUCTURE_COLUMNS = {"participant_code", "round", "group_id", "player_id", "id_in_subsession", "role",
                     "arm", "model", "persona", "bot_status", "payoff"}
# Fields with at most this many distinct values are shown as bars of their values.
FEW_NUMBERS = 5
MOST_CHOICES = 12
REASONS_PER_QUESTION = 3

Group = tuple[str, str]


def group_label(group: Group) -> str:
    """How the report names a group: its arm and model."""
    return f"{group[0]} · {group[1]}"


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% interval (mean ± 1.96 standard errors; none for a single value)."""

    n: int
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Interval:
        mean = statistics.fmean(values)
        half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
        return cls(len(values), mean, mean - half, mean + half)


@dataclass
class PlayerField:
    """One field of an app's player table: its values per group (numbers where every value is one),
    and for numbers played over several rounds, the values per group and round."""

    app: str
    name: str
    numeric: bool
    values: dict[Group, list[Any]]
    by_round: dict[Group, dict[int, list[float]]] = field(default_factory=dict)

    @property
    def shown_as(self) -> Literal["bars", "box", "text"]:
        """Bars of the values for numbers with a few distinct values and for text whose values repeat
        (choices); box plots for other numbers; examples of other text (free answers)."""
        answers = [value for values in self.values.values() for value in values]
        distinct = len(set(answers))
        if self.numeric:
            return "bars" if distinct <= FEW_NUMBERS else "box"
        return "bars" if distinct <= min(MOST_CHOICES, len(answers) / 2) else "text"

    def interval(self, group: Group) -> Interval:
        """The mean of a numeric field in ``group`` with its interval."""
        return Interval.of(self.values[group])

    def counts(self, group: Group) -> dict[str, int]:
        """How often each value was chosen in ``group``."""
        found: dict[str, int] = {}
        for value in self.values[group]:
            found[_shown(value)] = found.get(_shown(value), 0) + 1
        return found

    def choices(self) -> list[str]:
        """Every value chosen in any group, numbers in their order."""
        seen = sorted({value for values in self.values.values() for value in values})
        return list(dict.fromkeys(_shown(value) for value in seen))


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Reason:
    """One answer a bot gave with its reason."""

    group: Group
    round: str
    answer: str
    reason: str


@dataclass
class StudyData:
    """Everything the report shows, from one export folder."""

    manifest: dict[str, Any]
    groups: list[Group]
    fields: list[PlayerField]
    payoffs: dict[Group, list[float]]
    reasons: dict[str, list[Reason]]


def read_study_export(folder: str | Path) -> StudyData:
    """Read the export in ``folder`` (written by ``export_study``) into what the report shows."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    groups = [(row["arm"], row["model"]) for row in manifest["by_arm_and_model"]]
    players = {app: _rows(path) for app, path in _player_tables(folder).items()}
    fields = [player_field for app, rows in players.items() for player_field in _fields(app, rows, groups)]
    return StudyData(manifest, groups, fields, _payoffs(players, groups), _reasons(folder, groups))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _player_tables(folder: Path) -> dict[str, Path]:
    """Each app's player table: ``otree_<app>_player.csv``, or with a single app that has data,
    ``otree_player.csv`` (oTree's wide table may name apps that other sessions of the server played)."""
    played: list[str] = []
    for row in _rows(folder / "otree_wide.csv"):
        for column, value in row.items():
            app = column.split(".")[0]
            if value and column.count(".") == 3 and ".player." in column and app not in played:
                played.append(app)
    single = folder / "otree_player.csv"
    if single.exists() and played:
        return {played[0]: single}
    return {app: folder / f"otree_{app}_player.csv" for app in played if (folder / f"otree_{app}_player.csv").exists()}


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _fields(app: str, rows: list[dict[str, str]], groups: list[Group]) -> list[PlayerField]:
    bots = [row for row in rows if (row["arm"], row["model"]) in groups]
    names = [name for name in (bots[0] if bots else {}) if name not in STRUCTURE_COLUMNS]
    fields = []
    for name in names:
        answered = [row for row in bots if row[name] != ""]
        numbers = [_number(row[name]) for row in answered]
        if not answered:
            continue
        numeric = None not in numbers
        values: dict[Group, list[Any]] = {}
        by_round: dict[Group, dict[int, list[float]]] = {}
        for row, number in zip(answered, numbers):
            group = (row["arm"], row["model"])
            values.setdefault(group, []).append(number if numeric else row[name])
            if numeric:
                by_round.setdefault(group, {}).setdefault(int(row["round"]), []).append(number)
        rounds = {round_number for per_group in by_round.values() for round_number in per_group}
        fields.append(PlayerField(app, name, numeric, values, by_round if len(rounds) > 1 else {}))
    return fields


def _payoffs(players: dict[str, list[dict[str, str]]], groups: list[Group]) -> dict[Group, list[float]]:
    """Each bot's payoff summed over the rounds and apps it played, per group."""
    totals: dict[str, tuple[Group, float]] = {}
    for rows in players.values():
        for row in rows:
            group = (row["arm"], row["model"])
            payoff = _number(row.get("payoff", ""))
            if group in groups and payoff is not None:
                totals[row["participant_code"]] = (group, totals.get(row["participant_code"], (group, 0.0))[1] + payoff)
    payoffs: dict[Group, list[float]] = {}
    for group, total in totals.values():
        payoffs.setdefault(group, []).append(total)
    return payoffs


def _reasons(folder: Path, groups: list[Group]) -> dict[str, list[Reason]]:
    """A few reasons per question, taken from the groups in turn."""
    group_of = {row["participant_id"]: (row["arm"], row["model"]) for row in _rows(folder / "botex_participants.csv")}
    pools: dict[str, dict[Group, list[Reason]]] = {}
    for row in _rows(folder / "botex_responses.csv"):
        group = group_of.get(row["participant_id"])
        if group in groups and row["reason"].strip():
            pools.setdefault(row["question_id"], {}).setdefault(group, []).append(
                Reason(group, row["round"], row["answer"], row["reason"]))
    chosen: dict[str, list[Reason]] = {}
    for question, by_group in pools.items():
        picked: list[Reason] = []
        depth = 0
        while len(picked) < REASONS_PER_QUESTION and any(depth < len(reasons) for reasons in by_group.values()):
            picked += [reasons[depth] for reasons in by_group.values() if depth < len(reasons)]
            depth += 1
        chosen[question] = picked[:REASONS_PER_QUESTION]
    return chosen
