"""What a bot writes to the store while it plays, and what it reads back to resume."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Delete, delete, func, select
from sqlalchemy.orm import Session

from botex_core.bot.job import Superseded
from botex_core.bot.page import Page
from botex_core.llm.client import Exchange, exchange_request_json
from botex_core.store import (
    Answer,
    BotStatus,
    Conversation,
    LiveAction,
    LLMExchange,
    Rejection,
    ledger,
    session_scope,
)

logger = logging.getLogger(__name__)


@dataclass
class SubmittedAnswer:
    """One answer as the bot submitted it."""

    question_id: str
    label: str
    answer: str
    reason: str


@dataclass(frozen=True)
class ConversationSoFar:
    """A bot's messages so far, with the settings it plays with (``bot_parms``)."""

    messages: list[dict[str, Any]]
    bot_parms: dict[str, Any]


@dataclass(frozen=True)
class LiveStep:
    """One step of a bot on an interactive page: what it did (``press``, ``enter``, ``chat``, ``go_on``,
    ``wait`` or ``stop``), with which control and value, why, whether the page changed after it, what
    had changed on the page before it (``news``) and what went wrong (``note``)."""

    action: str
    label: str | None = None
    value: str | None = None
    reason: str | None = None
    page_changed: bool = False
    news: str = ""
    note: str = ""
    reaction_seconds: float | None = None


@dataclass
class ResumeState:
    """Where a bot stood when it last stopped."""

    resumed: bool
    messages: list[dict[str, Any]] = field(default_factory=list)
    summary: str | None = None


class BotRecorder:
    """Writes one bot's progress as it happens: exchanges, answers, conversation, status."""

    def __init__(self, botex_db: str, session_id: str, participant_id: str, lease_owner: str | None = None) -> None:
        self._db = botex_db
        self._key = (session_id, participant_id)
        self._lease_owner = lease_owner
        self._sequence = 0

    def begin(self, new_attempt: bool = True, driver: str | None = None) -> ResumeState:
        """Mark the bot running (seeing its pages with ``driver``) and return what it already did, if anything.

        ``new_attempt`` is false when the bot goes on after it gave its slot back.

        Raises:
            ParticipantNotFoundError: The store does not know the participant.
        """
        started_before = ledger.mark_running(self._db, *self._key, new_attempt=new_attempt, driver=driver)
        with session_scope(self._db) as session:
            self._sequence = session.scalar(
                select(func.coalesce(func.max(LLMExchange.sequence), 0)).where(
                    LLMExchange.session_id == self._key[0], LLMExchange.participant_id == self._key[1]
                )
            )
            conversation = session.get(Conversation, self._key[1])
        messages = json.loads(conversation.conversation) if conversation and conversation.conversation else []
        return ResumeState(started_before and bool(messages), messages, _last_summary(messages))

    def record_exchange(self, phase: str, exchange: Exchange) -> None:
        """Store one LLM request with its response or error.

        Raises:
            Superseded: Another run took the participant over: nothing is written.
        """
        self._sequence += 1
        with session_scope(self._db) as session:
            self._check_lease(session)
            session.add(
                LLMExchange(
                    session_id=self._key[0],
                    participant_id=self._key[1],
                    sequence=self._sequence,
                    phase=phase,
                    request=exchange_request_json(exchange),
                    response=exchange.response,
                    error=exchange.error,
                    prompt_tokens=exchange.prompt_tokens,
                    completion_tokens=exchange.completion_tokens,
                    latency_seconds=exchange.latency_seconds,
                    cached=1 if exchange.cached else None,
                )
            )

    def save_conversation(self, conversation: ConversationSoFar) -> None:
        """Replace the bot's conversation row with its messages so far."""
        with session_scope(self._db) as session:
            self._check_lease(session)
            self._write_conversation(session, conversation)

    def store_answers(self, page: Page, answers: list[SubmittedAnswer], conversation: ConversationSoFar) -> None:
        """Store the answers submitted on ``page`` (storing a page again replaces them), and the
        conversation that gave them, in one transaction."""
        session_id, participant_id = self._key
        with session_scope(self._db) as session:
            self._check_lease(session)
            self._write_conversation(session, conversation)
            session.execute(self._answers_of(page))
            earlier_visits = session.scalar(
                select(func.count(func.distinct(Answer.page_index))).where(
                    Answer.session_id == session_id,
                    Answer.participant_id == participant_id,
                    Answer.app == page.app,
                    Answer.page == page.name,
                    Answer.page_index < (page.index or 0),
                )
            )
            session.add_all(
                Answer(
                    session_id=session_id,
                    participant_id=participant_id,
                    app=page.app,
                    page=page.name,
                    page_index=page.index,
                    round=earlier_visits + 1,
                    question_id=item.question_id,
                    label=item.label,
                    answer=item.answer,
                    reason=item.reason,
                )
                for item in answers
            )

    def _write_conversation(self, session: Session, conversation: ConversationSoFar) -> None:
        row = session.get(Conversation, self._key[1])
        if row is None:
            row = Conversation(id=self._key[1])
            session.add(row)
        row.bot_parms = json.dumps(conversation.bot_parms)
        row.conversation = json.dumps(conversation.messages)

    def store_action(self, page: Page, step: LiveStep) -> None:
        """Store one step the bot took on the interactive ``page``.

        Raises:
            Superseded: Another run took the participant over: nothing is written.
        """
        with session_scope(self._db) as session:
            self._check_lease(session)
            session.add(LiveAction(
                session_id=self._key[0], participant_id=self._key[1], app=page.app, page=page.name,
                page_index=page.index, action=step.action, label=step.label, value=step.value, reason=step.reason,
                page_changed=int(step.page_changed), news=step.news or None, note=step.note or None,
                reaction_seconds=step.reaction_seconds,
            ))

    def store_rejection(self, page: Page, attempt: int) -> None:
        """Store that oTree rejected the answers to ``page`` (shown again with its errors) on try ``attempt``."""
        errors = page.errors or ["the page did not change after the answers were submitted"]
        with session_scope(self._db) as session:
            self._check_lease(session)
            session.add(Rejection(session_id=self._key[0], participant_id=self._key[1], app=page.app, page=page.name,
                                  page_index=page.index, attempt=attempt, errors="\n".join(errors)))

    def forget_answers(self, page: Page) -> None:
        """Remove the answers of ``page``: oTree never accepted them."""
        with session_scope(self._db) as session:
            session.execute(self._answers_of(page))

    def _answers_of(self, page: Page) -> Delete:
        return delete(Answer).where(
            Answer.session_id == self._key[0],
            Answer.participant_id == self._key[1],
            Answer.page_index == page.index,
        )

    def note_driver(self, note: str) -> None:
        """Record that the bot now sees its pages in another way, and why."""
        ledger.note_driver(self._db, *self._key, note)

    def _check_lease(self, session: Session) -> None:
        """Stop a run that lost its lease before it writes over the run that took the participant over."""
        if self._lease_owner is not None and not ledger.holds_lease(session, *self._key, self._lease_owner):
            raise Superseded("lost its lease")

    def end(self, status: BotStatus, reason: str | None = None) -> None:
        """Record the bot's status after a run (ended, or queued to go on), unless another run took the
        participant over; a finished bot gets its ``time_out``."""
        if not ledger.end(self._db, *self._key, status, reason, owner=self._lease_owner):
            logger.warning("bot %s: not recorded as %s: another run holds the participant", self._key[1], status.value)

def _last_summary(messages: list[dict[str, Any]]) -> str | None:
    for message in reversed(messages):
        if message.get("role") != "assistant":
            continue
        try:
            reply = json.loads(message.get("content") or "", strict=False)
        except ValueError:
            continue
        if isinstance(reply, dict) and isinstance(reply.get("summary"), str):
            return reply["summary"]
    return None
