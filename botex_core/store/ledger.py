"""The participant ledger: the only code that writes the participants table.

A participant's life is written here and nowhere else: added with its session,
queued, leased by the run that plays it (claimed, renewed, released), running,
and ended with a status and a reason. Leases are taken with one conditional
UPDATE, so two runners can never both hold one, on SQLite or PostgreSQL; a
lease that expired (its runner died) can be taken by another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Update, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from botex_core.errors import ParticipantNotFoundError
from botex_core.store.budgets import BUDGET_REACHED
from botex_core.store.clock import database_now
from botex_core.store.engine import session_scope
from botex_core.store.models import BotStatus, Participant, utcnow

# SQLite limits the parameters of one statement.
_CHUNK = 1000


@dataclass(frozen=True)
class NewParticipant:
    """A participant of a freshly created oTree session."""

    session_name: str
    session_id: str
    participant_id: str
    is_human: bool
    url: str
    id_in_session: int | None = None


def add_participants(participants: list[NewParticipant], botex_db: str) -> None:
    """Store the participants of a session in one transaction; bots start ``created`` (not yet queued)."""
    with session_scope(botex_db) as session:
        session.add_all(
            Participant(
                session_name=p.session_name,
                session_id=p.session_id,
                participant_id=p.participant_id,
                is_human=int(p.is_human),
                url=p.url,
                id_in_session=p.id_in_session,
                status=None if p.is_human else BotStatus.CREATED.value,
                attempts=0,
            )
            for p in participants
        )


def ensure_participant(botex_db: str, participant: NewParticipant) -> None:
    """Add ``participant`` unless the store knows it already."""
    with session_scope(botex_db) as session:
        known = session.get(Participant, (participant.session_id, participant.participant_id)) is not None
    if not known:
        add_participants([participant], botex_db)


@dataclass(frozen=True)
class QueuedBot:
    """What a bot is queued with: its settings as JSON text (never a secret), its model and persona."""

    bot_settings: str
    model: str
    persona: str | None = None


def mark_queued(botex_db: str, session_id: str, bots: dict[str, QueuedBot]) -> None:
    """Record what each bot (by participant id) is queued with and mark the bots queued,
    except those running now (one statement per thousand).

    Raises:
        ParticipantNotFoundError: A bot is not in the store (nothing is marked).
    """
    participant_ids = list(bots)
    with session_scope(botex_db) as session:
        try:
            session.execute(
                update(Participant),
                [{"session_id": session_id, "participant_id": p, "bot_settings": bot.bot_settings, "model": bot.model,
                  "persona": bot.persona} for p, bot in bots.items()],
            )
        except StaleDataError:
            raise ParticipantNotFoundError(
                f"bots of session {session_id} are not in the store: add them with init_otree_session "
                "(or run_single_bot) before queueing them"
            ) from None
        for start in range(0, len(participant_ids), _CHUNK):
            session.execute(
                update(Participant)
                .where(
                    Participant.session_id == session_id,
                    Participant.participant_id.in_(participant_ids[start:start + _CHUNK]),
                    or_(Participant.status.is_(None), Participant.status != BotStatus.RUNNING.value),
                )
                .values(status=BotStatus.QUEUED.value, status_reason=None)
            )


def note_not_started(botex_db: str, session_id: str, reason: str) -> None:
    """Record why the session's bots that were never queued did not start (a run refused to)."""
    with session_scope(botex_db) as session:
        session.execute(
            update(Participant)
            .where(Participant.session_id == session_id, Participant.status == BotStatus.CREATED.value)
            .values(status_reason=f"not started: {reason}")
        )


def queued_message(botex_db: str, session_id: str, participant_id: str) -> str | None:
    """The copy of the task message the bot was last queued with, as JSON text (None if never queued)."""
    with session_scope(botex_db) as session:
        participant = session.get(Participant, (session_id, participant_id))
    return participant.bot_settings if participant is not None else None


def assign_to_study(botex_db: str, session_id: str, study: str, arm: str) -> None:
    """Mark every participant of the session as part of ``study``'s ``arm``."""
    with session_scope(botex_db) as session:
        session.execute(update(Participant).where(Participant.session_id == session_id).values(study=study, arm=arm))


def lease_lapsed() -> ColumnElement[bool]:
    """The condition that no runner holds the participant's lease now (by the database's clock):
    none was taken, or it expired."""
    return or_(Participant.lease_owner.is_(None), Participant.lease_expires_at < database_now())


def claim_lease(
    botex_db: str, session_id: str, participant_id: str, owner: str, seconds: float, previous_owner: str | None = None
) -> bool:
    """Take the participant's lease; False if its bot can never run again or another owner holds a live lease.

    ``previous_owner``: the run that this one follows, known to have ended (its lease may be left
    behind when the store was down as it ended); its lease is taken over at once.
    """
    free = lease_lapsed() if previous_owner is None else or_(lease_lapsed(), Participant.lease_owner == previous_owner)
    statement = (
        update(Participant)
        .where(
            Participant.session_id == session_id,
            Participant.participant_id == participant_id,
            or_(Participant.status.is_(None), Participant.status.not_in(BotStatus.final())),
            free,
        )
        .values(lease_owner=owner, lease_expires_at=database_now(seconds))
    )
    with session_scope(botex_db) as session:
        return session.execute(statement).rowcount == 1


def renew_leases(botex_db: str, owners: list[str], seconds: float) -> set[str]:
    """Extend the leases of ``owners`` (each owner is one run of one bot), a thousand in a
    statement; returns the owners that still held theirs (the others lost them)."""
    renewed: set[str] = set()
    with session_scope(botex_db) as session:
        for start in range(0, len(owners), _CHUNK):
            statement = (
                update(Participant)
                .where(Participant.lease_owner.in_(owners[start:start + _CHUNK]))
                .values(lease_expires_at=database_now(seconds))
                .returning(Participant.lease_owner)
            )
            renewed.update(session.scalars(statement))
    return renewed


def holds_lease(session: Session, session_id: str, participant_id: str, owner: str) -> bool:
    """Whether ``owner`` holds the participant's lease, read within the caller's transaction
    (locking the row where the database can, so that no takeover slips in before it commits)."""
    statement = select(Participant.lease_owner).where(
        Participant.session_id == session_id, Participant.participant_id == participant_id
    ).with_for_update()
    return session.scalar(statement) == owner


def release_lease(botex_db: str, session_id: str, participant_id: str, owner: str) -> None:
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


def mark_running(
    botex_db: str, session_id: str, participant_id: str, new_attempt: bool = True, driver: str | None = None
) -> bool:
    """Mark the bot running (a new attempt unless it goes on after giving its slot back), seeing its
    pages with ``driver`` (``http`` or ``browser``) when given.

    Returns:
        Whether the bot had started before.

    Raises:
        ParticipantNotFoundError: The store does not know the participant.
    """
    with session_scope(botex_db) as session:
        participant = session.get(Participant, (session_id, participant_id))
        if participant is None:
            raise ParticipantNotFoundError(f"participant {participant_id} of session {session_id} is not in the store")
        started_before = participant.time_in is not None
        participant.time_in = participant.time_in or utcnow()
        participant.status = BotStatus.RUNNING.value
        participant.status_reason = None
        participant.attempts = (participant.attempts or 0) + int(new_attempt)
        participant.driver = driver or participant.driver
    return started_before


def note_driver(botex_db: str, session_id: str, participant_id: str, note: str) -> None:
    """Record how the bot now sees its pages (``browser from page ...: why``)."""
    statement = (
        update(Participant)
        .where(Participant.session_id == session_id, Participant.participant_id == participant_id)
        .values(driver=note)
    )
    with session_scope(botex_db) as session:
        session.execute(statement)


def end(
    botex_db: str, session_id: str, participant_id: str, status: BotStatus, reason: str | None = None,
    owner: str | None = None,
) -> bool:
    """Record how the bot's run ended (or that it is queued to go on); a finished bot gets its ``time_out``.

    Only the run that holds the participant's lease (``owner``) may write it, or,
    without an owner, anyone while no run holds a live lease: a run that was
    taken over never overwrites the one that took over. Returns whether it wrote.
    """
    values: dict[str, Any] = {"status": status.value, "status_reason": reason}
    if status == BotStatus.FINISHED:
        values["time_out"] = utcnow()
    holds_the_lease = Participant.lease_owner == owner if owner else lease_lapsed()
    statement = (
        update(Participant)
        .where(Participant.session_id == session_id, Participant.participant_id == participant_id, holds_the_lease)
        .values(**values)
    )
    with session_scope(botex_db) as session:
        return session.execute(statement).rowcount == 1


def fail_crashed_run(botex_db: str, session_id: str, participant_id: str, reason: str) -> bool:
    """Mark a bot failed whose task crashed outside the bot, unless a live run holds it or it ended
    for good (a bot that finished stays finished when, say, the task's result could not be stored).
    Returns whether it wrote."""
    statement = (
        update(Participant)
        .where(
            Participant.session_id == session_id,
            Participant.participant_id == participant_id,
            lease_lapsed(),
            or_(Participant.status.is_(None), Participant.status.not_in(BotStatus.final())),
        )
        .values(status=BotStatus.FAILED.value, status_reason=reason)
    )
    with session_scope(botex_db) as session:
        return session.execute(statement).rowcount == 1


def is_final(botex_db: str, session_id: str, participant_id: str) -> bool:
    """Whether the participant's bot finished or was abandoned (or is unknown): nothing runs it again."""
    with session_scope(botex_db) as session:
        participant = session.get(Participant, (session_id, participant_id))
    return participant is None or participant.status in BotStatus.final()


def not_ended(botex_db: str, bots: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of ``bots`` (session id, participant id) that have not finished, failed or
    been abandoned, asked in one query per thousand sessions (unknown bots count as ended)."""
    sessions = sorted({session_id for session_id, _ in bots})
    pending: set[tuple[str, str]] = set()
    with session_scope(botex_db) as session:
        for start in range(0, len(sessions), _CHUNK):
            query = select(Participant.session_id, Participant.participant_id).where(
                Participant.session_id.in_(sessions[start:start + _CHUNK]),
                or_(Participant.status.is_(None), Participant.status.not_in(BotStatus.ended())),
            )
            pending.update((row.session_id, row.participant_id) for row in session.execute(query))
    return pending & bots


def bot_urls(session_id: str, botex_db: str, already_started: bool = False) -> list[str]:
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


@dataclass(frozen=True)
class StoredBot:
    """A bot as the ledger knows it: its link, where it stands, and what it was last queued with."""

    session_id: str
    participant_id: str
    url: str
    status: str
    bot_settings: str | None


def unfinished_bots(session_id: str, botex_db: str) -> list[StoredBot]:
    """The session's bots that may still run (queued, running or failed, and those a budget
    stopped), in oTree's order."""
    stopped_by_budget = (Participant.status == BotStatus.ABANDONED.value) & Participant.status_reason.startswith(
        BUDGET_REACHED)
    query = (
        select(Participant)
        .where(Participant.session_id == session_id, Participant.is_human == 0)
        .where(Participant.status.is_not(None), or_(Participant.status.not_in(BotStatus.final()), stopped_by_budget))
        .order_by(Participant.id_in_session, Participant.participant_id)
    )
    with session_scope(botex_db) as session:
        return [_stored(row) for row in session.scalars(query) if row.url]


def stranded_bots(botex_db: str) -> list[StoredBot]:
    """Bots that were queued and have not ended, with no live lease: queued, or running
    with a lease that expired or is gone (their runner died or could not write how they ended)."""
    query = select(Participant).where(
        Participant.bot_settings.is_not(None),
        or_(
            Participant.status == BotStatus.QUEUED.value,
            (Participant.status == BotStatus.RUNNING.value)
            & lease_lapsed(),
        ),
    )
    with session_scope(botex_db) as session:
        return [_stored(row) for row in session.scalars(query)]


def requeue_stranded(botex_db: str, bot: StoredBot, reason: str) -> bool:
    """Mark a stranded bot queued again with ``reason``; False if it moved on meanwhile
    (it started, ended, or a runner took its lease)."""
    statement = (
        update(Participant)
        .where(
            Participant.session_id == bot.session_id,
            Participant.participant_id == bot.participant_id,
            Participant.status == bot.status,
            lease_lapsed(),
        )
        # The lapsed lease goes: a run that lost it cannot renew it or write over the next run.
        .values(status=BotStatus.QUEUED.value, status_reason=reason, lease_owner=None, lease_expires_at=None)
    )
    with session_scope(botex_db) as session:
        return session.execute(statement).rowcount == 1


def _stored(row: Participant) -> StoredBot:
    return StoredBot(row.session_id, row.participant_id, row.url or "", row.status or "", row.bot_settings)


def study_bots(botex_db: str, study: str) -> dict[tuple[str, str], list[str]]:
    """The participant codes of a study's bots by arm and model, in the order of arms and models."""
    query = (
        select(Participant.arm, Participant.model, Participant.participant_id)
        .where(Participant.study == study, Participant.is_human == 0)
        .order_by(Participant.arm, Participant.model, Participant.session_id, Participant.id_in_session)
    )
    bots: dict[tuple[str, str], list[str]] = {}
    with session_scope(botex_db) as session:
        for arm, model, participant_id in session.execute(query):
            bots.setdefault((arm or "", model or ""), []).append(participant_id)
    return bots


def session_codes(botex_db: str) -> list[str]:
    """The codes of every session in the store, sorted."""
    with session_scope(botex_db) as session:
        return list(session.scalars(select(Participant.session_id).distinct().order_by(Participant.session_id)))
