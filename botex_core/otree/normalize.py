"""Reshaping oTree's wide CSV into one table per entity and app.

oTree names each wide column by dotted levels: ``participant.code``,
``session.code``, ``<app>.<round>.<player|group|subsession>.<field>``. The
result has a ``participant`` and a ``session`` table and, per app, a
``<app>_player`` table and (when it holds data) a ``<app>_group`` table; with a
single app the app prefix is dropped. Apps whose columns are all empty (oTree
exports them when other sessions on the server played them) are left out.
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botex_core.csv_files import write_csv, write_file_atomically
from botex_core.errors import DataFormatError

logger = logging.getLogger(__name__)

Row = dict[str, Any]

DEFAULT_VAR_DICT: dict[str, dict[str, Any]] = {
    "participant": {
        "code": "participant_code",
        "time_started_utc": "time_started_utc",
        "_current_app_name": "current_app",
        "_current_page_name": "current_page",
    },
    "session": {"code": "session_code"},
}
STRUCTURE_FIELDS = ("id_in_group", "id_in_subsession", "round_number")
ENTITIES = ("participant", "session")


@dataclass(frozen=True)
class Column:
    """One wide column: its position and its dotted name split into four levels."""

    index: int
    levels: tuple[str | None, str | None, str | None, str | None]

    @classmethod
    def parse(cls, index: int, name: str) -> Column:
        parts = name.split(".")[:4]
        padded = parts + [None] * (4 - len(parts))
        return cls(index, (padded[0], padded[1], padded[2], padded[3]))


def normalize_otree_data(
    otree_csv_file: str,
    var_dict: dict[str, dict[str, Any]] | None = DEFAULT_VAR_DICT,
    store_as_csv: bool = False,
    data_exp_path: str | None = ".",
    exp_prefix: str | None = "",
) -> dict[str, list[Row]]:
    """Turn a wide oTree CSV into normalised tables.

    Args:
        otree_csv_file: A wide (all apps) oTree CSV file.
        var_dict: Which variables to keep and how to name them: per key
            (``participant``, ``session`` or an app name, and for apps per
            ``player``/``group``/``subsession``) a dict from oTree's variable
            name to the output name. Variables left out are dropped; an app
            or level without an entry keeps all its variables. Defaults to
            :data:`DEFAULT_VAR_DICT` (also when None); it is never modified.
        store_as_csv: Also write each table to ``<prefix>_<table>.csv``.
        data_exp_path: Folder for the CSV files. Defaults to the current folder.
        exp_prefix: Prefix of the CSV file names. Defaults to none.

    Returns:
        A dict from table name to its rows.

    Raises:
        DataFormatError: The file is empty or its subsession columns hold
            data that is not one row per round.
    """
    header, data = _read_wide_csv(otree_csv_file)
    columns = [Column.parse(index, name) for index, name in enumerate(header)]
    apps = _apps_with_data(columns, data)
    variables = copy.deepcopy(DEFAULT_VAR_DICT if var_dict is None else var_dict)
    for entity in ENTITIES:
        variables.setdefault(entity, copy.deepcopy(DEFAULT_VAR_DICT[entity]))

    participants = _entity_rows(data, columns, "participant", variables["participant"])
    code_of = {obs: row.get("participant_code") for obs, row in participants.items()}
    sessions = _entity_rows(data, columns, "session", variables["session"])
    session_rows = [dict(row, participant_code=code_of.get(obs)) for obs, row in sessions.items()]
    tables: dict[str, list[Row]] = {
        "participant": [_first(row, ["participant_code"]) for row in participants.values()],
        "session": session_rows,
    }
    session_of = {row["participant_code"]: row for row in session_rows}
    for app in apps:
        logger.info("normalising oTree app '%s'", app)
        tables.update(_app_tables(app, data, columns, variables.get(app) or {}, code_of, session_of))

    if len(apps) == 1:
        prefix = f"{apps[0]}_"
        tables = {
            (name[len(prefix):] if name.startswith(prefix) else name): rows
            for name, rows in tables.items()
        }
    if store_as_csv:
        _store_tables(tables, data_exp_path or ".", exp_prefix or "")
    return tables


def _read_wide_csv(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8-sig") as file:
        rows = list(csv.reader(file))
    if not rows:
        raise DataFormatError(f"oTree CSV file '{path}' is empty")
    return rows[0], rows[1:]


def _apps_with_data(columns: list[Column], data: list[list[str]]) -> list[str]:
    """The apps with at least one value: oTree also exports empty columns of
    apps that only other sessions on the server played."""
    apps = {
        column.levels[0]
        for column in columns
        if column.levels[0] and column.levels[0] not in ENTITIES
        and any(_cell(values, column) != "" for values in data)
    }
    return sorted(apps)  # type: ignore[arg-type]


def _entity_rows(
    data: list[list[str]], columns: list[Column], entity: str, names: dict[str, str]
) -> dict[int, Row]:
    """Per observation, the entity's mapped variables (first occurrence wins)."""
    selected = [c for c in columns if c.levels[0] == entity and c.levels[1] in names]
    rows: dict[int, Row] = {}
    for obs, values in enumerate(data):
        row: Row = {}
        for column in selected:
            name = names[column.levels[1]]  # type: ignore[index]
            if name not in row:
                value = _cell(values, column)
                row[name] = value if column.levels[1] == "code" else _number_or_text(value)
        if row:
            rows[obs] = row
    return rows


def _app_tables(
    app: str,
    data: list[list[str]],
    columns: list[Column],
    app_variables: dict[str, dict[str, str]],
    code_of: dict[int, Any],
    session_of: dict[Any, Row],
) -> dict[str, list[Row]]:
    levels = sorted({c.levels[2] for c in columns if c.levels[0] == app and c.levels[2]})
    pivots = {
        level: _pivot_level(app, level, data, columns, app_variables.get(level), code_of)
        for level in levels
    }
    tables: dict[str, list[Row]] = {}
    group_of: dict[tuple[Any, Any], Any] = {}
    if "group" in pivots:
        group_table, group_of = _group_table(pivots.pop("group"), session_of)
        if group_table is not None:
            tables[f"{app}_group"] = group_table
    if "player" in pivots:
        tables[f"{app}_player"] = _player_table(pivots.pop("player"), group_of)
    if "subsession" in pivots:
        _check_subsession(app, pivots.pop("subsession"))
    for level, rows in pivots.items():
        logger.warning("unrecognised level '%s' in app '%s'; kept as it is", level, app)
        tables[f"{app}_{level}"] = rows
    return tables


def _pivot_level(
    app: str,
    level: str,
    data: list[list[str]],
    columns: list[Column],
    names: dict[str, str] | None,
    code_of: dict[int, Any],
) -> list[Row]:
    """One row per observation and round with the level's non-empty variables."""
    selected: list[tuple[Column, str]] = []
    for column in columns:
        field = column.levels[3]
        if column.levels[0] != app or column.levels[2] != level or field is None:
            continue
        if names:
            if field in STRUCTURE_FIELDS:
                selected.append((column, field))
            elif field in names:
                selected.append((column, names[field]))
        else:
            selected.append((column, field))

    pivot: dict[tuple[int, int | None], Row] = {}
    for obs, values in enumerate(data):
        for column, name in selected:
            value = _cell(values, column)
            if value == "":
                continue
            row = pivot.setdefault((obs, _round(column.levels[1])), {"round": _round(column.levels[1])})
            row.setdefault(name, _number_or_text(value))

    all_names = _unique(name for _, name in selected)
    present = _unique(key for row in pivot.values() for key in row)
    ordered = present + [name for name in all_names if name not in present]
    return [
        {**{key: row.get(key, "") for key in ordered}, "participant_code": code_of.get(obs)}
        for (obs, _), row in pivot.items()
    ]


def _group_table(
    rows: list[Row], session_of: dict[Any, Row]
) -> tuple[list[Row] | None, dict[tuple[Any, Any], Any]]:
    """The group table (None when it holds nothing) and each player's group per round."""
    merged = []
    for row in rows:
        session = session_of.get(row.get("participant_code"), {})
        merged.append({**row, **{k: v for k, v in session.items() if k != "participant_code"}})
    single_group = all(row.get("id_in_subsession") == 1 for row in merged)
    group_of: dict[tuple[Any, Any], Any] = {}
    cleaned = []
    for row in merged:
        code = row.pop("participant_code", None)
        group_id = row.pop("id_in_subsession", None)
        if not single_group:
            row["group_id"] = group_id
            group_of[(code, row.get("round"))] = group_id
        cleaned.append(row)
    if single_group and cleaned and len(cleaned[0]) == 2:
        return None, group_of
    first = ["session_code", "round"] + ([] if single_group else ["group_id"])
    return _unique_rows(_first(row, first) for row in cleaned), group_of


def _player_table(rows: list[Row], group_of: dict[tuple[Any, Any], Any]) -> list[Row]:
    table = []
    for row in rows:
        player = dict(row)
        player["player_id"] = player.pop("id_in_group", None)
        first = ["participant_code", "round", "player_id"]
        if group_of:
            player["group_id"] = group_of.get((player.get("participant_code"), player.get("round")))
            first = ["participant_code", "round", "group_id", "player_id"]
        table.append(_first(player, first))
    return table


def _check_subsession(app: str, rows: list[Row]) -> None:
    """Subsessions are rounds: anything beyond ``round_number`` cannot be normalised."""
    if rows and len(rows[0]) != 3:
        raise DataFormatError(
            f"app '{app}' has subsession-level data or more subsessions than rounds"
        )
    for row in rows:
        if "round_number" in row and row["round_number"] != row["round"]:
            raise DataFormatError(f"app '{app}': subsession round_number does not match its round")


def _store_tables(tables: dict[str, list[Row]], folder: str, prefix: str) -> None:
    stem = f"{prefix}_" if prefix else ""
    for name, rows in tables.items():
        path = os.path.join(folder, f"{stem}{name}.csv")
        if rows:
            write_csv(path, _unique(key for row in rows for key in row), rows)
        else:
            write_file_atomically(path, b"")


def _cell(values: list[str], column: Column) -> str:
    return values[column.index] if column.index < len(values) else ""


def _round(level: str | None) -> int | None:
    try:
        return int(level)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _number_or_text(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _first(row: Row, keys: list[str]) -> Row:
    """``row`` with ``keys`` (those it has) moved to the front."""
    front = {key: row[key] for key in keys if key in row}
    return {**front, **{k: v for k, v in row.items() if k not in front}}


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_rows(rows: Iterable[Row]) -> list[Row]:
    seen: set[tuple[tuple[str, str], ...]] = set()
    unique = []
    for row in rows:
        key = tuple(sorted((k, repr(v)) for k, v in row.items()))
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique
