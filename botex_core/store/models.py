"""SQLAlchemy models of the botex store.

``participants`` and ``conversations`` keep the column names of the original
botex tables so that exports keep their shape; the columns after ``time_out``
and the ``llm_exchanges`` and ``answers`` tables are what a fleet needs.
All times are naive UTC.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """The current time as naive UTC, the form every timestamp in the store has."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class BotStatus(str, enum.Enum):
    """Where a bot stands. Human participants have no status."""

    # Added with its session; no bot has been queued for it yet (or the run that was to queue it refused).
    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    ABANDONED = "abandoned"

    @classmethod
    def ended(cls) -> frozenset[str]:
        """Statuses of bots that stopped for now: nothing runs them unless they are retried."""
        return frozenset({cls.FINISHED.value, cls.FAILED.value, cls.ABANDONED.value})

    @classmethod
    def final(cls) -> frozenset[str]:
        """Statuses of bots that will never run again: a retry cannot change them."""
        return frozenset({cls.FINISHED.value, cls.ABANDONED.value})


class Base(DeclarativeBase):
    """Declarative base of the botex store."""


class Participant(Base):
    """One oTree participant of a session, played by a bot or by a human."""

    __tablename__ = "participants"

    session_name: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_human: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str | None] = mapped_column(Text)
    time_in: Mapped[datetime | None] = mapped_column(DateTime)
    time_out: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str | None] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    id_in_session: Mapped[int | None] = mapped_column(Integer)
    # What the bot was queued with (model, api_base, parameters, prompts, queue) as JSON: never a secret.
    bot_settings: Mapped[str | None] = mapped_column(Text)
    # How the bot saw its pages: http or browser, and when it switched to a browser and why.
    driver: Mapped[str | None] = mapped_column(Text)
    # The model and persona the bot was last queued with.
    model: Mapped[str | None] = mapped_column(String(200))
    persona: Mapped[str | None] = mapped_column(Text)
    # The study and arm whose session this is (none for sessions outside a study).
    study: Mapped[str | None] = mapped_column(String(64), index=True)
    arm: Mapped[str | None] = mapped_column(String(64))


class Budget(Base):
    """A spend cap and what was spent under it: one per session or study whose bots were given a cap."""

    __tablename__ = "budgets"

    # ``session:<code>`` or ``study:<name>``
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    max_cost: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    spent_cost: Mapped[float] = mapped_column(Float, default=0.0)
    spent_tokens: Mapped[int] = mapped_column(Integer, default=0)


class StudyRecord(Base):
    """A study as it was started: its file, and what it ran with."""

    __tablename__ = "studies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The study file's text as given (TOML, or JSON for a study given as a dict).
    source: Mapped[str] = mapped_column(Text)
    botex_fleet_version: Mapped[str] = mapped_column(String(64))
    prompts_sha256: Mapped[str] = mapped_column(String(64))
    otree_server_url: Mapped[str] = mapped_column(Text)
    otree_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The study this one replays (its bots answered from that study's stored exchanges).
    replay_of: Mapped[str | None] = mapped_column(String(64))


class Conversation(Base):
    """The messages a bot exchanged with its LLM, as JSON text, one row per bot."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bot_parms: Mapped[str | None] = mapped_column(Text)
    conversation: Mapped[str | None] = mapped_column(Text)


def _of_a_participant() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["session_id", "participant_id"],
        ["participants.session_id", "participants.participant_id"],
        ondelete="CASCADE",
    )


class _BotRecord:
    """The key columns of a row that belongs to one bot."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-3)
    session_id: Mapped[str] = mapped_column(String(64), sort_order=-2)
    participant_id: Mapped[str] = mapped_column(String(64), sort_order=-1)


class LLMExchange(_BotRecord, Base):
    """One request to the LLM and its response, with token counts and latency."""

    __tablename__ = "llm_exchanges"
    __table_args__ = (
        UniqueConstraint("session_id", "participant_id", "sequence"),
        _of_a_participant(),
    )

    sequence: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(64))
    request: Mapped[str] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_seconds: Mapped[float | None] = mapped_column(Float)
    # 1 when a replay answered the request from a stored exchange: nothing reached the provider.
    cached: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Answer(_BotRecord, Base):
    """One answer a bot submitted to a form field, with the reason it gave."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("session_id", "participant_id", "app", "page", "round", "question_id"),
        _of_a_participant(),
    )

    app: Mapped[str | None] = mapped_column(String(200))
    page: Mapped[str | None] = mapped_column(String(200))
    page_index: Mapped[int | None] = mapped_column(Integer)
    round: Mapped[int | None] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LiveAction(_BotRecord, Base):
    """One thing a bot did on an interactive page (or decided not to do), with its reason."""

    __tablename__ = "live_actions"
    __table_args__ = (_of_a_participant(),)

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    app: Mapped[str | None] = mapped_column(String(200))
    page: Mapped[str | None] = mapped_column(String(200))
    page_index: Mapped[int | None] = mapped_column(Integer)
    # press, enter, chat, go_on, wait, or stop (a limit reached: no more LLM calls on the page)
    action: Mapped[str] = mapped_column(String(16))
    # The control's label (a button's text), and what the bot typed or wrote.
    label: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    # Whether the page showed something new after the action (an answer of the server, a message).
    page_changed: Mapped[int | None] = mapped_column(Integer)
    # What had changed on the page since the bot's previous look, as it saw it before deciding.
    news: Mapped[str | None] = mapped_column(Text)
    # What went wrong, if anything (the control was gone when the bot used it, no valid reply).
    note: Mapped[str | None] = mapped_column(Text)
    # Seconds from the bot seeing news on the page to this step (its reaction), when it saw news.
    reaction_seconds: Mapped[float | None] = mapped_column(Float)


class Rejection(_BotRecord, Base):
    """oTree rejecting a bot's answers to a page: its messages, and which try of the page it was."""

    __tablename__ = "rejections"
    __table_args__ = (_of_a_participant(),)

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    app: Mapped[str | None] = mapped_column(String(200))
    page: Mapped[str | None] = mapped_column(String(200))
    page_index: Mapped[int | None] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    # oTree's messages, one per line (``field: message`` where oTree names the field).
    errors: Mapped[str] = mapped_column(Text)
