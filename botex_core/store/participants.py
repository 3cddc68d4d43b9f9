"""Reading and writing participant rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from botex_core.store.engine import session_scope
from botex_core.store.models import BotStatus, Participant


@dataclass(frozen=True)
class NewParticipant:
    """A participant of a freshly created oTree session."""

    session_name: str
    session_id: str
    participant_id: str
    is_human: bool
    url: str
    id_in_session: int | None = None


def add_participants(participants: list[NewParticipant], botex_db: str | None = None) -> None:
    """Store the participants of a session in one transaction; bots start queued."""
    with session_scope(botex_db) as session:
        session.add_all(
            Participant(
                session_name=p.session_name,
                session_id=p.session_id,
                participant_id=p.participant_id,
                is_human=int(p.is_human),
                url=p.url,
                id_in_session=p.id_in_session,
                status=None if p.is_human else BotStatus.QUEUED.value,
                attempts=0,
            )
            for p in participants
        )


def bot_urls(session_id: str, botex_db: str | None = None, already_started: bool = False) -> list[str]:
    """URLs of the session's bots that have not started (or, with ``already_started``, not finished),
    in oTree's order, so that the members of a group follow each other."""
    unfinished_column = Participant.time_out if already_started else Participant.time_in
    query = (
        select(Participant.url)
        .where(Participant.session_id == session_id, Participant.is_human == 0)
        .where(unfinished_column.is_(None))
        .order_by(Participant.id_in_session, Participant.participant_id)
    )
    with session_scope(botex_db) as session:
        return [url for url in session.scalars(query) if url]
