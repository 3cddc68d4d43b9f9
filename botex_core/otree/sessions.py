"""Creating oTree sessions and finding their bots."""

from __future__ import annotations

import logging
import random
from typing import Any

from botex_core.errors import ConfigurationError
from botex_core.otree.client import OtreeClient
from botex_core.otree.links import participant_link
from botex_core.settings import botex_db_setting
from botex_core.store import get_engine
from botex_core.store.ledger import NewParticipant, add_participants, bot_urls

logger = logging.getLogger(__name__)


def get_session_configs(
    otree_server_url: str | None = None, otree_rest_key: str | None = None
) -> list[dict[str, Any]]:
    """The session configurations of an oTree server.

    Args:
        otree_server_url: URL of the server; defaults to ``OTREE_SERVER_URL``.
        otree_rest_key: REST key; defaults to ``OTREE_REST_KEY``.

    Returns:
        One dict per session configuration, as oTree describes it.
    """
    return OtreeClient.resolved(otree_server_url, otree_rest_key).session_configs()


def init_otree_session(
    config_name: str,
    npart: int,
    nhumans: int = 0,
    is_human: list[bool] | None = None,
    room_name: str | None = None,
    botex_db: str | None = None,
    otree_server_url: str | None = None,
    otree_rest_key: str | None = None,
    modified_session_config_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create an oTree session and store its participants in the botex database.

    Args:
        config_name: Name of the oTree session configuration.
        npart: Number of participants.
        nhumans: Number of human participants, placed at random. Give either
            this or ``is_human``.
        is_human: One flag per participant, True for a human.
        room_name: oTree room to create the session in, if any.
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        otree_server_url: URL of the server; defaults to ``OTREE_SERVER_URL``.
        otree_rest_key: REST key; defaults to ``OTREE_REST_KEY``.
        modified_session_config_fields: Session config fields to override.

    Returns:
        A dict with ``session_id``, ``participant_code``, ``is_human``,
        ``bot_urls`` and ``human_urls``.

    Raises:
        ConfigurationError: The participant numbers contradict each other.
        OtreeError: The server is unreachable, rejects the key, or refuses
            the session (for example an unknown config name).
    """
    humans = _human_flags(npart, nhumans, is_human)
    botex_db = botex_db_setting(botex_db)
    get_engine(botex_db)  # a bad database must fail before oTree creates anything
    client = OtreeClient.resolved(otree_server_url, otree_rest_key)
    session_id = client.create_session(
        config_name, npart, room_name, modified_session_config_fields
    )
    participants = client.session_participants(session_id)
    participant_codes = [p["code"] for p in participants]
    urls = [participant_link(client.server_url, code) for code in participant_codes]
    add_participants(
        [
            NewParticipant(config_name, session_id, p["code"], human, url, p["id_in_session"])
            for p, human, url in zip(participants, humans, urls)
        ],
        botex_db,
    )
    logger.info("created oTree session %s (%s, %d participants)", session_id, config_name, npart)
    return {
        "session_id": session_id,
        "participant_code": participant_codes,
        "is_human": humans,
        "bot_urls": [url for url, human in zip(urls, humans) if not human],
        "human_urls": [url for url, human in zip(urls, humans) if human],
    }


def get_bot_urls(
    session_id: str, botex_db: str | None = None, already_started: bool = False
) -> list[str]:
    """URLs of a session's bot participants that still have to run.

    Args:
        session_id: The oTree session code.
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        already_started: Also return bots that started but did not finish.

    Returns:
        The participant URLs.
    """
    return bot_urls(session_id, botex_db_setting(botex_db), already_started)


def _human_flags(npart: int, nhumans: int, is_human: list[bool] | None) -> list[bool]:
    if isinstance(npart, bool) or not isinstance(npart, int) or npart < 1:
        raise ConfigurationError(f"npart must be a positive whole number, not {npart!r}")
    if is_human is not None:
        if nhumans:
            raise ConfigurationError("give either nhumans or is_human, not both")
        if len(is_human) != npart:
            raise ConfigurationError(
                f"is_human has {len(is_human)} entries but the session has {npart} participants"
            )
        return [bool(flag) for flag in is_human]
    if isinstance(nhumans, bool) or not isinstance(nhumans, int) or nhumans < 0:
        raise ConfigurationError(f"nhumans must be a whole number of 0 or more, not {nhumans!r}")
    if nhumans > npart:
        raise ConfigurationError(f"nhumans ({nhumans}) exceeds the number of participants ({npart})")
    flags = [True] * nhumans + [False] * (npart - nhumans)
    random.shuffle(flags)
    return flags
