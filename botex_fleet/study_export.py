"""Exporting a study: the botex tables and oTree's tables of all its sessions, each participant
row with its arm, model, persona and bot status, and a manifest of what ran."""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from botex_core.csv_files import make_folder, write_csv, write_file_atomically
from botex_core.exports import (
    ACTION_COLUMNS,
    CONVERSATION_COLUMNS,
    PARTICIPANT_COLUMNS,
    RESPONSE_COLUMNS,
    read_actions_from_botex_db,
    read_conversations_from_botex_db,
    read_participants_from_botex_db,
    read_responses_from_botex_db,
)
from botex_core.otree import export_otree_data, normalize_otree_data
from botex_core.progress import SessionProgress, bots_progress
from botex_core.settings import BotexSettings, OtreeSettings, resolve
from botex_core.store import ledger, utcnow
from botex_core.study.records import load_study, queued_settings, study_sessions

# The columns every participant row of oTree's tables gets from the store.
BOT_COLUMNS = ("arm", "model", "persona", "bot_status")


def export_study(
    name: str,
    folder: str | Path,
    botex_db: str | None = None,
    otree_server_url: str | None = None,
    otree_rest_key: str | None = None,
) -> Path:
    """Write study ``name``'s data to ``folder``: ``botex_participants.csv``, ``botex_responses.csv``,
    ``botex_conversations.csv``, ``botex_actions.csv``, ``otree_wide.csv`` and oTree's normalised tables (``otree_*.csv``),
    and ``manifest.json``. Returns the manifest's path.

    Raises:
        ConfigurationError: The store has no such study.
        OtreeError: The oTree server cannot give its data.
    """
    local = resolve(BotexSettings, db=botex_db)
    otree = resolve(OtreeSettings, server_url=otree_server_url, rest_key=otree_rest_key)
    stored = load_study(local.db, name)
    sessions = study_sessions(local.db, name)
    codes = [code for arm_codes in sessions.values() for code in arm_codes]
    folder = Path(folder)
    make_folder(folder)
    participants = [row for code in codes for row in read_participants_from_botex_db(code, local.db)]
    write_csv(str(folder / "botex_participants.csv"), PARTICIPANT_COLUMNS, participants)
    write_csv(str(folder / "botex_responses.csv"), RESPONSE_COLUMNS,
              [row for code in codes for row in read_responses_from_botex_db(local.db, code)])
    write_csv(str(folder / "botex_conversations.csv"), CONVERSATION_COLUMNS,
              [row for code in codes for row in read_conversations_from_botex_db(botex_db=local.db, session_id=code)])
    write_csv(str(folder / "botex_actions.csv"), ACTION_COLUMNS,
              [row for code in codes for row in read_actions_from_botex_db(local.db, code)])
    _export_otree_tables(codes, participants, folder, otree.server_url, otree.rest_key)
    by_group = {key: bots_progress(ids, local.db) for key, ids in ledger.study_bots(local.db, name).items()}
    manifest = {
        "study": stored.name,
        "study_file": stored.source,
        "replay_of": stored.replay_of,
        "botex_fleet_version": stored.botex_fleet_version,
        "prompts_sha256": stored.prompts_sha256,
        "otree_server_url": stored.otree_server_url,
        "otree_version": stored.otree_version,
        "started": stored.created_at.isoformat(),
        "exported": utcnow().isoformat(),
        "sessions": sessions,
        "models": _models(participants, queued_settings(local.db, name)),
        "by_arm_and_model": [{"arm": arm, "model": model, **asdict(counts)} for (arm, model), counts in by_group.items()],
        "totals": asdict(SessionProgress.combined(list(by_group.values()))),
    }
    path = folder / "manifest.json"
    write_file_atomically(str(path), json.dumps(manifest, indent=2, default=str).encode())
    return path


def _export_otree_tables(
    codes: list[str], participants: list[dict[str, Any]], folder: Path, server_url: str, rest_key: str | None
) -> None:
    """oTree's wide table of the study's sessions and its normalised tables, with the bot columns."""
    bots = {row["participant_id"]: row for row in participants}
    header: list[str] = []
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for code in codes:
            part = Path(scratch) / f"{code}.csv"
            export_otree_data(str(part), server_url, rest_key=rest_key, session_id=code)
            with open(part, newline="") as file:
                reader = csv.DictReader(file)
                header += [column for column in reader.fieldnames or [] if column not in header]
                rows += list(reader)
        wide = Path(scratch) / "otree_wide.csv"
        write_csv(str(wide), header, rows)
        tables = normalize_otree_data(str(wide))
    write_csv(str(folder / "otree_wide.csv"), [*BOT_COLUMNS, *header],
              [{**_bot_columns(bots.get(row.get("participant.code", ""))), **row} for row in rows])
    for table, table_rows in tables.items():
        with_bots = [{**row, **_bot_columns(bots.get(row.get("participant_code", "")))} for row in table_rows]
        columns = list(dict.fromkeys(key for row in with_bots for key in row))
        write_csv(str(folder / f"otree_{table}.csv"), columns, with_bots)


def _bot_columns(participant: dict[str, Any] | None) -> dict[str, Any]:
    if participant is None:
        return dict.fromkeys(BOT_COLUMNS, "")
    return {"arm": participant["arm"], "model": participant["model"], "persona": participant["persona"],
            "bot_status": participant["status"]}


def _models(participants: list[dict[str, Any]], queued: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each model of the study with its bots and the settings they were queued with (never a secret)."""
    models: dict[str, dict[str, Any]] = {}
    for row in participants:
        if not row["model"]:
            continue
        entry = models.setdefault(row["model"], {"bots": 0, "settings": []})
        entry["bots"] += 1
        bot = queued.get(row["participant_id"], {})
        settings = {key: bot.get(key) for key in ("api_base", "completion_kwargs", "user_prompts", "driver",
                                                  "full_conv_history")}
        if settings not in entry["settings"]:
            entry["settings"].append(settings)
    return models
