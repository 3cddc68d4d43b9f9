"""How far the bots of a session are, counted from the store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from botex_core.store import Answer, LLMExchange, Participant, session_scope


@dataclass(frozen=True)
class SessionProgress:
    """Counts of one session's bots, answers and LLM use."""

    bots: int
    by_status: dict[str, int]
    answers: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def done(self) -> int:
        """Bots that ended, one way or another."""
        return sum(self.by_status.get(s, 0) for s in ("finished", "failed", "abandoned"))

    def line(self) -> str:
        """One line for a terminal."""
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(self.by_status.items()))
        return (
            f"bots {self.done}/{self.bots} done ({statuses}) | answers {self.answers} | "
            f"LLM calls {self.llm_calls} | tokens {self.prompt_tokens} in, {self.completion_tokens} out"
        )


def session_progress(session_id: str, botex_db: str | None = None) -> SessionProgress:
    """Count the session's bots by status, their answers, LLM calls and tokens."""
    with session_scope(botex_db) as session:
        statuses = session.execute(
            select(Participant.status, func.count())
            .where(Participant.session_id == session_id, Participant.is_human == 0)
            .group_by(Participant.status)
        ).all()
        answers = session.scalar(select(func.count()).where(Answer.session_id == session_id))
        calls, prompt, completion = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(LLMExchange.prompt_tokens), 0),
                func.coalesce(func.sum(LLMExchange.completion_tokens), 0),
            ).where(LLMExchange.session_id == session_id)
        ).one()
    by_status = {status or "unknown": count for status, count in statuses}
    return SessionProgress(sum(by_status.values()), by_status, answers or 0, calls, prompt, completion)


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
