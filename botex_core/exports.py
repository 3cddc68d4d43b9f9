"""Reading botex data from the store and exporting it to CSV."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from botex_core.csv_files import write_csv
from botex_core.settings import botex_db_setting
from botex_core.store import Answer, Conversation, LiveAction, Participant, session_scope

PARTICIPANT_COLUMNS = (
    "session_name",
    "session_id",
    "participant_id",
    "is_human",
    "url",
    "time_in",
    "time_out",
    "status",
    "status_reason",
    "attempts",
    "driver",
    "model",
    "persona",
    "study",
    "arm",
)
CONVERSATION_COLUMNS = ("id", "bot_parms", "conversation")
RESPONSE_COLUMNS = (
    "session_id",
    "participant_id",
    "round",
    "question_id",
    "answer",
    "reason",
    "app",
    "page",
    "question_label",
)

ACTION_COLUMNS = (
    "session_id",
    "participant_id",
    "time",
    "app",
    "page",
    "page_index",
    "action",
    "label",
    "value",
    "reason",
    "page_changed",
    "news",
    "note",
    "reaction_seconds",
)


def read_participants_from_botex_db(
    session_id: str | None = None, botex_db: str | None = None
) -> list[dict[str, Any]]:
    """The participants table as a list of dicts, optionally for one session.

    Args:
        session_id: Only this session's participants if given.
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.

    Returns:
        One dict per participant with the columns of ``PARTICIPANT_COLUMNS``.
    """
    query = select(Participant).order_by(Participant.session_id, Participant.participant_id)
    if session_id:
        query = query.where(Participant.session_id == session_id)
    with session_scope(botex_db_setting(botex_db)) as session:
        return [
            {column: getattr(row, column) for column in PARTICIPANT_COLUMNS}
            for row in session.scalars(query)
        ]


def read_conversations_from_botex_db(
    participant_id: str | None = None,
    botex_db: str | None = None,
    session_id: str | None = None,
) -> list[dict[str, Any]]:
    """The conversations table: one dict per bot with its messages as a JSON string.

    Args:
        participant_id: Only this participant's conversation if given.
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        session_id: Only the conversations of this session's bots if given.

    Returns:
        Dicts with the keys ``id``, ``bot_parms`` and ``conversation``.
    """
    query = select(Conversation).order_by(Conversation.id)
    if participant_id:
        query = query.where(Conversation.id == participant_id)
    if session_id:
        query = query.join(Participant, Participant.participant_id == Conversation.id).where(
            Participant.session_id == session_id
        )
    with session_scope(botex_db_setting(botex_db)) as session:
        return [
            {column: getattr(row, column) for column in CONVERSATION_COLUMNS}
            for row in session.scalars(query)
        ]


def read_responses_from_botex_db(
    botex_db: str | None = None, session_id: str | None = None
) -> list[dict[str, Any]]:
    """The answers the bots submitted, each with the reason the LLM gave.

    Args:
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        session_id: Only this session's answers if given.

    Returns:
        One dict per answered question with the columns of ``RESPONSE_COLUMNS``,
        in the order the answers were given.
    """
    query = select(Answer).order_by(Answer.session_id, Answer.participant_id, Answer.id)
    if session_id:
        query = query.where(Answer.session_id == session_id)
    with session_scope(botex_db_setting(botex_db)) as session:
        return [
            {
                "session_id": row.session_id,
                "participant_id": row.participant_id,
                "round": row.round,
                "question_id": row.question_id,
                "answer": row.answer,
                "reason": row.reason,
                "app": row.app,
                "page": row.page,
                "question_label": row.label,
            }
            for row in session.scalars(query)
        ]


def export_participant_data(
    csv_file: str, botex_db: str | None = None, session_id: str | None = None
) -> None:
    """Write :func:`read_participants_from_botex_db` to ``csv_file``."""
    rows = read_participants_from_botex_db(session_id=session_id, botex_db=botex_db)
    write_csv(csv_file, PARTICIPANT_COLUMNS, rows)


def export_response_data(
    csv_file: str, botex_db: str | None = None, session_id: str | None = None
) -> None:
    """Write :func:`read_responses_from_botex_db` to ``csv_file``."""
    rows = read_responses_from_botex_db(botex_db=botex_db, session_id=session_id)
    write_csv(csv_file, RESPONSE_COLUMNS, rows)


def export_conversation_data(
    csv_file: str, botex_db: str | None = None, session_id: str | None = None
) -> None:
    """Write :func:`read_conversations_from_botex_db` to ``csv_file``: each bot's messages as JSON."""
    rows = read_conversations_from_botex_db(botex_db=botex_db, session_id=session_id)
    write_csv(csv_file, CONVERSATION_COLUMNS, rows)


def read_actions_from_botex_db(botex_db: str | None = None, session_id: str | None = None) -> list[dict[str, Any]]:
    """What the bots did on interactive pages (live pages and chats), one dict per step in the order
    they took them, with the columns of ``ACTION_COLUMNS``: ``action`` is press, enter, chat, go_on,
    wait or stop (a limit reached); ``label`` the control's text; ``value`` what the bot typed or
    wrote; ``page_changed`` 1 when the page showed something new after it; ``news`` what had changed
    on the page before the bot decided; ``note`` what went wrong; ``reaction_seconds`` the time from
    the bot seeing that news to its action.

    Args:
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        session_id: Only this session's actions if given.
    """
    query = select(LiveAction).order_by(LiveAction.session_id, LiveAction.participant_id, LiveAction.id)
    if session_id:
        query = query.where(LiveAction.session_id == session_id)
    with session_scope(botex_db_setting(botex_db)) as session:
        return [
            {
                "session_id": row.session_id, "participant_id": row.participant_id,
                "time": row.created_at.isoformat(sep=" ", timespec="seconds"), "app": row.app, "page": row.page,
                "page_index": row.page_index, "action": row.action, "label": row.label, "value": row.value,
                "reason": row.reason, "page_changed": row.page_changed, "news": row.news, "note": row.note,
                "reaction_seconds": row.reaction_seconds,
            }
            for row in session.scalars(query)
        ]


def export_action_data(csv_file: str, botex_db: str | None = None, session_id: str | None = None) -> None:
    """Write :func:`read_actions_from_botex_db` to ``csv_file``."""
    write_csv(csv_file, ACTION_COLUMNS, read_actions_from_botex_db(botex_db=botex_db, session_id=session_id))
