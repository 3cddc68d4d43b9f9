"""What a study will cost, estimated before it runs: from earlier bots in the store, or from a dry run."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, or_, select

from botex_core.costs import estimated_cost
from botex_core.progress import bots_progress
from botex_core.store import BotStatus, LLMExchange, Participant, session_scope
from botex_core.store.models import StudyRecord

# The most recent finished bots an estimate is based on.
BASIS_BOTS = 200


@dataclass(frozen=True)
class Estimate:
    """LLM use of some bots, estimated from ``basis`` bots of the same session config and model: earlier
    bots that finished, or the bots of a dry run (``dry_run``)."""

    bots: int
    basis: int
    llm_calls: float
    prompt_tokens: float
    completion_tokens: float
    cost_usd: float | None
    dry_run: bool = False
    # A dry run scaled by the model's own retries (:class:`Retries`), and how many bots showed them.
    retries_of: int = 0

    @property
    def basis_text(self) -> str:
        """What the estimate rests on, in a few words."""
        if not self.dry_run:
            return f"{self.basis} earlier bot(s)"
        retries = f" x retries of {self.retries_of}" if self.retries_of else ""
        return f"dry run, {self.basis} bot(s){retries}"


@dataclass(frozen=True)
class Retries:
    """How much more than one try per prompt a model's bots used: the calls and tokens of all their
    tries over those of their first tries (rejected answers, confusion, replies that were not
    valid), from ``bots`` earlier bots of the model in any experiment."""

    bots: int
    calls: float
    prompt_tokens: float
    completion_tokens: float

    def instead_of(self, other: Retries | None) -> Retries:
        """These retries in place of ``other`` (by which some use was already multiplied)."""
        if other is None:
            return self
        return Retries(self.bots, self.calls / other.calls, self.prompt_tokens / other.prompt_tokens,
                       self.completion_tokens / other.completion_tokens)


def scaled_estimate(model: str, bots: int, basis: int, llm_calls: float, prompt_tokens: float,
                    completion_tokens: float, dry_run: bool = False, retries: Retries | None = None) -> Estimate:
    """The estimate for ``bots`` bots of ``model`` from what ``basis`` bots used together (times the
    model's ``retries`` when given), priced at ``model``'s list price."""
    scale = bots / basis
    retries = retries or Retries(0, 1.0, 1.0, 1.0)
    prompt, completion = prompt_tokens * scale * retries.prompt_tokens, completion_tokens * scale * retries.completion_tokens
    return Estimate(bots, basis, llm_calls * scale * retries.calls, prompt, completion,
                    estimated_cost(model, round(prompt), round(completion)), dry_run, retries.bots)


def model_retries(botex_db: str, model: str) -> Retries | None:
    """The retries of the most recent bots of ``model`` that finished (replays left out); None when
    there were none."""
    with session_scope(botex_db) as session:
        earlier = list(session.scalars(_finished_bots(Participant.model == model)))
    return bots_retries(botex_db, earlier)


def bots_retries(botex_db: str, participant_ids: list[str]) -> Retries | None:
    """The retries of some bots, counted over their form pages and their start and end (an
    interactive page's many calls are not retries); None when they made no such call."""
    with session_scope(botex_db) as session:
        exchanges = session.execute(
            select(LLMExchange.participant_id, LLMExchange.phase, LLMExchange.prompt_tokens,
                   LLMExchange.completion_tokens)
            .where(LLMExchange.participant_id.in_(participant_ids), LLMExchange.phase.not_like("live:%"))
            .order_by(LLMExchange.participant_id, LLMExchange.sequence)
        ).all()
    first: dict[tuple[str, str], tuple[int, int]] = {}
    for bot, phase, prompt, completion in exchanges:
        first.setdefault((bot, phase), (prompt or 0, completion or 0))
    first_prompt, first_completion = (sum(tokens) for tokens in zip(*first.values())) if first else (0, 0)
    if not first_prompt or not first_completion:
        return None
    return Retries(len({bot for bot, _ in first}), len(exchanges) / len(first),
                   sum(row.prompt_tokens or 0 for row in exchanges) / first_prompt,
                   sum(row.completion_tokens or 0 for row in exchanges) / first_completion)


def _finished_bots(*conditions: ColumnElement[bool]) -> Select[tuple[str]]:
    """The most recent finished bots (at most :data:`BASIS_BOTS`) that meet ``conditions``, replays left out."""
    replays = select(StudyRecord.name).where(StudyRecord.replay_of.is_not(None))
    return (
        select(Participant.participant_id)
        .where(*conditions, Participant.status == BotStatus.FINISHED.value,
               or_(Participant.study.is_(None), Participant.study.not_in(replays)))
        .order_by(Participant.time_out.desc())
        .limit(BASIS_BOTS)
    )


def estimate_bots(botex_db: str, session_config: str, model: str, bots: int) -> Estimate | None:
    """The LLM calls, tokens and cost of ``bots`` bots of ``model`` playing ``session_config``, from the
    averages of the bots of that config and model that finished before (not those of replays, which
    ask no model); None when there were none."""
    with session_scope(botex_db) as session:
        earlier = list(session.scalars(_finished_bots(Participant.session_name == session_config,
                                                      Participant.model == model)))
    if not earlier:
        return None
    used = bots_progress(earlier, botex_db)
    return scaled_estimate(model, bots, len(earlier), used.llm_calls, used.prompt_tokens, used.completion_tokens)
