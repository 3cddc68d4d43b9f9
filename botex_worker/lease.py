"""Leases on participants: no bot runs in two places at once.

A worker claims a participant with one conditional UPDATE, so two workers can
never both succeed, on SQLite or PostgreSQL. It renews the lease while the bot
runs; a lease that expires (its worker died) can be claimed by another worker.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import Update, or_, update

from botex_core.store import BotStatus, Participant, session_scope, utcnow

logger = logging.getLogger(__name__)

_ENDED = (BotStatus.FINISHED.value, BotStatus.ABANDONED.value)
ENDED_STATUSES = (*_ENDED, BotStatus.FAILED.value)


def claim(botex_db: str | None, session_id: str, participant_id: str, owner: str, seconds: float) -> bool:
    """Take the participant's lease; False if it ended or another worker holds a live lease."""
    now = utcnow()
    statement = (
        update(Participant)
        .where(
            Participant.session_id == session_id,
            Participant.participant_id == participant_id,
            or_(Participant.status.is_(None), Participant.status.not_in(_ENDED)),
            or_(Participant.lease_owner.is_(None), Participant.lease_expires_at < now),
        )
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds))
    )
    with session_scope(botex_db) as session:
        return session.execute(statement).rowcount == 1


def has_ended(botex_db: str | None, session_id: str, participant_id: str) -> bool:
    """Whether the participant's bot finished, failed or was abandoned (or is unknown)."""
    with session_scope(botex_db) as session:
        participant = session.get(Participant, (session_id, participant_id))
    return participant is None or participant.status in ENDED_STATUSES


def renew(botex_db: str | None, session_id: str, participant_id: str, owner: str, seconds: float) -> bool:
    """Extend a lease this owner holds; False if it lost it."""
    statement = _held_by(session_id, participant_id, owner).values(
        lease_expires_at=utcnow() + timedelta(seconds=seconds)
    )
    with session_scope(botex_db) as session:
        return session.execute(statement).rowcount == 1


def release(botex_db: str | None, session_id: str, participant_id: str, owner: str) -> None:
    """Give up a lease this owner holds."""
    statement = _held_by(session_id, participant_id, owner).values(lease_owner=None, lease_expires_at=None)
    with session_scope(botex_db) as session:
        session.execute(statement)


def _held_by(session_id: str, participant_id: str, owner: str) -> Update:
    return update(Participant).where(
        Participant.session_id == session_id,
        Participant.participant_id == participant_id,
        Participant.lease_owner == owner,
    )


class LeaseKeeper:
    """Renews a lease in the background until stopped; ``lost`` is set when another owner took it."""

    def __init__(self, botex_db: str | None, session_id: str, participant_id: str, owner: str, seconds: float) -> None:
        self._arguments = (botex_db, session_id, participant_id, owner, seconds)
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lease-{participant_id}")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        release(*self._arguments[:4])

    def _run(self) -> None:
        interval = self._arguments[4] / 3
        while not self._stop.wait(interval):
            try:
                if not renew(*self._arguments):
                    logger.error("lost the lease on participant %s", self._arguments[2])
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 - a failed renewal is retried at the next interval
                logger.exception("could not renew the lease on participant %s", self._arguments[2])
