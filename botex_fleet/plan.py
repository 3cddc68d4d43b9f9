"""A study's plan: its sessions and bots per arm and model, and what they will ask of the LLMs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from botex_core.settings import BotexSettings, OtreeSettings, resolve
from botex_core.study.estimate import Estimate, Retries, estimate_bots, model_retries, scaled_estimate
from botex_core.study.spec import Arm, Study, assign_personas, read_study, study_from_dict
from botex_fleet.dry_run import DryRunUse, dry_run_arm
from botex_fleet.studies import check_session_configs
from botex_worker.submission import Submission

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedBots:
    """The bots of one model in one arm, over all its sessions, and what they will use (None: unknown)."""

    arm: str
    session_config: str
    sessions: int
    model: str
    bots: int
    estimate: Estimate | None


@dataclass(frozen=True)
class StudyPlan:
    """Every arm's bots per model with their estimates."""

    name: str
    rows: list[PlannedBots]
    sessions: int
    bots: int

    @property
    def cost_usd(self) -> float | None:
        """The estimated cost of the whole study; None when a row has no estimate or no price."""
        costs = [row.estimate.cost_usd if row.estimate else None for row in self.rows]
        return None if None in costs else sum(cost for cost in costs if cost is not None)

    @property
    def tokens(self) -> float | None:
        """The estimated tokens of the whole study; None when a row has no estimate."""
        if any(row.estimate is None for row in self.rows):
            return None
        return sum(row.estimate.prompt_tokens + row.estimate.completion_tokens for row in self.rows if row.estimate)

    def passed_caps(self, max_cost: float | None, max_tokens: int | None) -> list[str]:
        """The caps the estimate passes, each as a warning."""
        passed = []
        if max_cost is not None and self.cost_usd is not None and self.cost_usd > max_cost:
            passed.append(f"the estimated cost passes the cap of ${max_cost:.4f}: the study would stop there")
        if max_tokens is not None and self.tokens is not None and self.tokens > max_tokens:
            passed.append(f"the estimated tokens pass the cap of {max_tokens}: the study would stop there")
        return passed


def plan_study(
    study: str | Path | dict[str, Any],
    botex_db: str | None = None,
    dry_run: bool = False,
    otree_server_url: str | None = None,
    otree_rest_key: str | None = None,
    show: Callable[[str], None] = logger.info,
) -> StudyPlan:
    """Check a study and estimate the LLM calls, tokens and cost of its bots; nothing is spent.

    Each arm's bots of a model are estimated from the most recent bots of the same session
    config and model that finished in the botex database. With ``dry_run``, each arm instead
    plays one session on the oTree server with answers made from the reply schemas (no LLM is
    asked, nothing of it is stored): its prompts are the real ones, counted with the model's
    tokenizer; its replies are as long as :mod:`botex_core.llm.schema_answers` writes them, and
    are retried only where oTree rejects them. Where the botex database has earlier bots of the
    model (in any experiment), their retries (their calls and tokens over those of their first
    tries) replace the dry run's own.

    Args:
        study: A study file's path, or the study as a dict.
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        dry_run: Estimate every arm by a dry run (an experiment never played, or changed since).
        otree_server_url, otree_rest_key: For a dry run; default ``OTREE_SERVER_URL``, ``OTREE_REST_KEY``.
        show: Gets the progress lines of dry runs.

    Raises:
        ConfigurationError: A mistake in the study, or (for a dry run) a session config the oTree
            server does not have.
    """
    if isinstance(study, dict):
        spec, folder = study_from_dict(study), Path(".")
    else:
        spec, folder = read_study(study), Path(study).parent
    db = resolve(BotexSettings, db=botex_db).db
    has_store = "://" in db or Path(db).is_file()
    rows = [PlannedBots(arm.name, arm.session_config, arm.sessions, model, bots,
                        estimate_bots(db, arm.session_config, model, bots) if has_store and not dry_run else None)
            for arm in spec.arms for model, bots in sorted(arm.bots_by_model().items())]
    if dry_run:
        otree = resolve(OtreeSettings, server_url=otree_server_url, rest_key=otree_rest_key)
        check_session_configs([arm.session_config for arm in spec.arms], otree.server_url, otree.rest_key)
        play = partial(dry_run_arm, otree_server_url=otree.server_url, otree_rest_key=otree.rest_key,
                       submission=Submission.resolved(), local=resolve(BotexSettings), show=show)
        retries = partial(model_retries, db) if has_store else lambda model: None
        rows = _with_dry_runs(spec, folder, rows, play, retries)
    return StudyPlan(spec.name, rows, sum(arm.sessions for arm in spec.arms),
                     sum(arm.sessions * arm.bots_per_session for arm in spec.arms))


def _with_dry_runs(spec: Study, folder: Path, rows: list[PlannedBots], play: Callable[..., list[DryRunUse]],
                   retries: Callable[[str], Retries | None]) -> list[PlannedBots]:
    """``rows`` with estimates from a dry run of each arm (``play``: :func:`dry_run_arm`), with each
    model's ``retries`` in place of the dry run's own where they are known."""
    estimates: dict[tuple[str, str], Estimate] = {}
    for arm in spec.arms:
        personas = assign_personas(_one_session(arm), folder)[0]
        for use in play(spec, arm, personas):
            bots = arm.bots_by_model()[use.model]
            known = retries(use.model)
            estimates[arm.name, use.model] = scaled_estimate(
                use.model, bots, use.bots, use.llm_calls, use.prompt_tokens, use.completion_tokens, dry_run=True,
                retries=known.instead_of(use.retries) if known else None)
    return [PlannedBots(row.arm, row.session_config, row.sessions, row.model, row.bots, estimates[row.arm, row.model])
            for row in rows]


def _one_session(arm: Arm) -> Arm:
    return arm.model_copy(update={"sessions": 1})
