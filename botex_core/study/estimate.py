"""What a study will cost, estimated before it runs from earlier bots in the store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from botex_core.costs import estimated_cost
from botex_core.progress import bots_progress
from botex_core.store import BotStatus, Participant, session_scope
from botex_core.store.models import StudyRecord

# The most recent finished bots an estimate is based on.
BASIS_BOTS = 200


@dataclass(frozen=True)
class Estimate:
    """LLM use of some bots, estimated from ``basis`` earlier bots of the same session config and model."""

    bots: int
    basis: int
    llm_calls: float
    prompt_tokens: float
    completion_tokens: float
    cost_usd: float | None


def estimate_bots(botex_db: str, session_config: str, model: str, bots: int) -> Estimate | None:
    """The LLM calls, tokens and cost of ``bots`` bots of ``model`` playing ``session_config``, from the
    averages of the bots of that config and model that finished before (not those of replays, which
    ask no model); None when there were none."""
    replays = select(StudyRecord.name).where(StudyRecord.replay_of.is_not(None))
    query = (
        select(Participant.participant_id)
        .where(Participant.session_name == session_config, Participant.model == model,
               Participant.status == BotStatus.FINISHED.value,
               or_(Participant.study.is_(None), Participant.study.not_in(replays)))
        .order_by(Participant.time_out.desc())
        .limit(BASIS_BOTS)
    )
    with session_scope(botex_db) as session:
        earlier = list(session.scalars(query))
    if not earlier:
        return None
    used = bots_progress(earlier, botex_db)
    scale = bots / len(earlier)
    prompt, completion = used.prompt_tokens * scale, used.completion_tokens * scale
    return Estimate(bots, len(earlier), used.llm_calls * scale, prompt, completion,
                    estimated_cost(model, round(prompt), round(completion)))
