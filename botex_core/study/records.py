"""A study's record in the store: kept when it starts, read when it is exported."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from botex_core.bot.prompts import default_prompts
from botex_core.errors import ConfigurationError
from botex_core.store import Participant, session_scope
from botex_core.store.models import StudyRecord


@dataclass(frozen=True)
class StoredStudy:
    """What the store knows of a study."""

    name: str
    source: str
    botex_fleet_version: str
    prompts_sha256: str
    otree_server_url: str
    otree_version: str | None
    created_at: datetime
    replay_of: str | None = None


def prompts_sha256() -> str:
    """A hash of the default prompt set, so that a study's data says which prompts it ran with."""
    return hashlib.sha256(json.dumps(default_prompts(), sort_keys=True).encode()).hexdigest()


def save_study(botex_db: str, study: StoredStudy) -> None:
    """Keep the study's record; refuse a name the store has already.

    Raises:
        ConfigurationError: A study of that name was started before.
    """
    with session_scope(botex_db) as session:
        if session.get(StudyRecord, study.name) is not None:
            raise ConfigurationError(f"the store has a study named '{study.name}' already: give this one a name of its own")
        session.add(StudyRecord(**study.__dict__))


def load_study(botex_db: str, name: str) -> StoredStudy:
    """The record of study ``name``.

    Raises:
        ConfigurationError: The store has no such study.
    """
    with session_scope(botex_db) as session:
        record = session.get(StudyRecord, name)
        if record is None:
            raise ConfigurationError(f"the store has no study named '{name}'")
        return StoredStudy(record.name, record.source, record.botex_fleet_version, record.prompts_sha256,
                           record.otree_server_url, record.otree_version, record.created_at, record.replay_of)


def free_study_name(botex_db: str, wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``, ... : the first name no study in the store has."""
    with session_scope(botex_db) as session:
        taken = set(session.scalars(select(StudyRecord.name).where(StudyRecord.name.startswith(wanted))))
    number = 1
    name = wanted
    while name in taken:
        number += 1
        name = f"{wanted}-{number}"
    return name


@dataclass(frozen=True)
class StoredSession:
    """One session of a study as it was created: its config, who was human, and each bot's settings
    (as queued) by participant code, in the order of ``id_in_session``."""

    code: str
    session_config: str
    is_human: list[bool]
    bots: dict[str, dict[str, Any]]


def stored_sessions(botex_db: str, name: str) -> dict[str, list[StoredSession]]:
    """The sessions of study ``name`` by arm (arms and codes sorted, as :func:`study_sessions`)."""
    query = (
        select(Participant)
        .where(Participant.study == name)
        .order_by(Participant.arm, Participant.session_id, Participant.id_in_session)
    )
    sessions: dict[str, dict[str, StoredSession]] = {}
    with session_scope(botex_db) as session:
        for row in session.scalars(query):
            by_code = sessions.setdefault(row.arm or "", {})
            stored = by_code.setdefault(row.session_id, StoredSession(row.session_id, row.session_name or "", [], {}))
            stored.is_human.append(bool(row.is_human))
            if not row.is_human:
                stored.bots[row.participant_id] = json.loads(row.bot_settings or "{}").get("settings", {})
    return {arm: list(by_code.values()) for arm, by_code in sessions.items()}


def study_sessions(botex_db: str, name: str) -> dict[str, list[str]]:
    """The session codes of the study by arm (arms and codes sorted)."""
    query = (
        select(Participant.arm, Participant.session_id)
        .where(Participant.study == name)
        .group_by(Participant.arm, Participant.session_id)
        .order_by(Participant.arm, Participant.session_id)
    )
    sessions: dict[str, list[str]] = {}
    with session_scope(botex_db) as session:
        for arm, code in session.execute(query):
            sessions.setdefault(arm or "", []).append(code)
    return sessions


def queued_settings(botex_db: str, name: str) -> dict[str, dict[str, Any]]:
    """The settings each bot of the study was last queued with, by participant code (never a secret)."""
    query = select(Participant.participant_id, Participant.bot_settings).where(
        Participant.study == name, Participant.bot_settings.is_not(None)
    )
    with session_scope(botex_db) as session:
        return {code: json.loads(text).get("settings", {}) for code, text in session.execute(query)}
