"""How far the bots of a session are, counted from the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from botex_core.costs import estimated_cost
from botex_core.store import Answer, BotStatus, Conversation, LiveAction, LLMExchange, Participant, session_scope
from botex_core.store import budgets
from botex_core.store.ledger import lease_lapsed

# Shown for running bots whose lease expired: no run plays them now, and the fleet puts them back.
RECOVERING = "recovering"


@dataclass(frozen=True)
class SessionProgress:
    """Counts of one session's bots, answers and LLM use."""

    bots: int
    by_status: dict[str, int]
    answers: int
    pages: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    # Steps the bots took on interactive pages (live pages and chats).
    actions: int = 0
    # What the bots spent against their cap, when they have one.
    spend: str | None = None

    @property
    def finished(self) -> int:
        """Bots that played to the end."""
        return self.by_status.get(BotStatus.FINISHED.value, 0)

    @property
    def done(self) -> int:
        """Bots that ended, one way or another."""
        return sum(self.by_status.get(status, 0) for status in BotStatus.ended())

    @classmethod
    def combined(cls, parts: list[SessionProgress]) -> SessionProgress:
        """The counts of several sessions together (no cost when one of them has none)."""
        by_status: dict[str, int] = {}
        for part in parts:
            for status, count in part.by_status.items():
                by_status[status] = by_status.get(status, 0) + count
        costs = [part.cost_usd for part in parts]
        return cls(
            bots=sum(part.bots for part in parts), by_status=by_status, answers=sum(part.answers for part in parts),
            pages=sum(part.pages for part in parts), llm_calls=sum(part.llm_calls for part in parts),
            prompt_tokens=sum(part.prompt_tokens for part in parts),
            completion_tokens=sum(part.completion_tokens for part in parts),
            cost_usd=None if None in costs else sum(c for c in costs if c is not None),
            actions=sum(part.actions for part in parts),
        )

    def line(self) -> str:
        """One line for a terminal."""
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(self.by_status.items()))
        cost = "" if self.cost_usd is None else f" | ~${self.cost_usd:.4f}"
        actions = f" | live actions {self.actions}" if self.actions else ""
        spend = f" | spent {self.spend}" if self.spend else ""
        return (
            f"bots {self.done}/{self.bots} done ({statuses}) | pages {self.pages} | answers {self.answers}{actions} | "
            f"LLM calls {self.llm_calls} | tokens {self.prompt_tokens} in, {self.completion_tokens} out{cost}{spend}"
        )


def session_progress(session_id: str, botex_db: str | None = None) -> SessionProgress:
    """Count the session's bots by status, pages, answers, LLM calls, tokens and their estimated cost,
    and what they spent against their cap (the session's, or its study's)."""
    counts = _progress(botex_db, Participant.session_id == session_id, Answer.session_id == session_id,
                       LLMExchange.session_id == session_id, LiveAction.session_id == session_id)
    for name in _budget_names(session_id, botex_db):
        standing = budgets.spend(botex_db, name)
        if standing is not None:
            return replace(counts, spend=standing.describe())
    return counts


def _budget_names(session_id: str, botex_db: str | None) -> list[str]:
    """The budgets a session's bots may spend from: the one they were queued with (a submission of
    several sessions shares one), then the session's own and its study's."""
    with session_scope(botex_db) as session:
        study, stored = session.execute(
            select(Participant.study, Participant.bot_settings).where(Participant.session_id == session_id)
            .order_by(Participant.bot_settings.is_(None)).limit(1)
        ).first() or (None, None)
    try:
        queued_with = json.loads(stored)["settings"].get("budget") if stored else None
    except (ValueError, KeyError, TypeError, AttributeError):
        queued_with = None
    names = [queued_with, f"session:{session_id}", f"study:{study}" if study else None]
    return [name for name in dict.fromkeys(names) if name]


def bots_progress(participant_ids: list[str], botex_db: str | None = None) -> SessionProgress:
    """The same counts for some bots (by participant code; oTree's codes are unique across sessions)."""
    return _progress(botex_db, Participant.participant_id.in_(participant_ids),
                     Answer.participant_id.in_(participant_ids), LLMExchange.participant_id.in_(participant_ids),
                     LiveAction.participant_id.in_(participant_ids))


def _progress(
    botex_db: str | None, of_participants: ColumnElement[bool], of_answers: ColumnElement[bool],
    of_exchanges: ColumnElement[bool], of_actions: ColumnElement[bool],
) -> SessionProgress:
    with session_scope(botex_db) as session:
        statuses = session.execute(
            select(Participant.status, func.count())
            .where(of_participants, Participant.is_human == 0)
            .group_by(Participant.status)
        ).all()
        recovering = session.scalar(
            select(func.count()).where(
                of_participants,
                Participant.status == BotStatus.RUNNING.value,
                lease_lapsed(),
            )
        )
        answers = session.scalar(select(func.count()).where(of_answers))
        actions = session.scalar(select(func.count()).where(of_actions, LiveAction.action.not_in(("wait", "stop"))))
        pages = session.scalar(
            select(func.count()).select_from(
                select(LLMExchange.participant_id, LLMExchange.phase)
                .where(of_exchanges, LLMExchange.phase.like("page:%"))
                .distinct()
                .subquery()
            )
        )
        usage = session.execute(
            select(
                LLMExchange.participant_id,
                func.count(),
                func.coalesce(func.sum(LLMExchange.prompt_tokens), 0),
                func.coalesce(func.sum(LLMExchange.completion_tokens), 0),
            )
            .where(of_exchanges)
            .group_by(LLMExchange.participant_id)
        ).all()
        models = _models_of(session, [participant for participant, *_ in usage])
    by_status = {status or "unknown": count for status, count in statuses}
    if recovering:
        # Running bots whose lease ran out: their run stopped, and the fleet is putting them back.
        by_status[BotStatus.RUNNING.value] -= recovering
        by_status[RECOVERING] = recovering
        by_status = {status: count for status, count in by_status.items() if count}
    tokens_by_model: dict[str, list[int]] = {}
    for participant, _, prompt, completion in usage:
        totals = tokens_by_model.setdefault(models.get(participant, ""), [0, 0])
        totals[0] += prompt
        totals[1] += completion
    costs = [estimated_cost(model, prompt, completion) for model, (prompt, completion) in tokens_by_model.items()]
    return SessionProgress(
        bots=sum(by_status.values()),
        by_status=by_status,
        answers=answers or 0,
        pages=pages or 0,
        llm_calls=sum(calls for _, calls, _, _ in usage),
        prompt_tokens=sum(prompt for _, _, prompt, _ in usage),
        completion_tokens=sum(completion for _, _, _, completion in usage),
        cost_usd=None if None in costs else sum(costs),
        actions=actions or 0,
    )


def _models_of(session: Session, participant_ids: list[str]) -> dict[str, str]:
    """Each bot's model as it was queued; from its saved conversation for bots queued before the
    store kept the model with the participant."""
    queued = session.execute(select(Participant.participant_id, Participant.model).where(
        Participant.participant_id.in_(participant_ids), Participant.model.is_not(None)))
    models = {participant: model for participant, model in queued}
    older = [participant for participant in participant_ids if participant not in models]
    if older:
        rows = session.execute(select(Conversation.id, Conversation.bot_parms).where(Conversation.id.in_(older)))
        models |= {participant: json.loads(parms or "{}").get("model", "") for participant, parms in rows}
    return models


def report_progress(
    session_id: str,
    botex_db: str | None,
    finished: threading.Event,
    show: Callable[[str], None],
    interval: float = 2.0,
) -> None:
    """Call ``show`` with a progress line whenever it changes, until ``finished`` is set."""
    last = ""
    while True:
        stop = finished.wait(interval)
        line = session_progress(session_id, botex_db).line()
        if line != last:
            show(line)
            last = line
        if stop:
            return
