"""A bot's share of a spend cap: asked before each LLM call, charged after it."""

from __future__ import annotations

from botex_core.costs import estimated_cost
from botex_core.errors import BudgetReached
from botex_core.llm.client import Exchange
from botex_core.store import budgets


class BudgetKeeper:
    """Keeps one bot within the budget ``name`` of ``botex_db`` (a :class:`~botex_core.llm.client.Budget`)."""

    def __init__(self, botex_db: str, name: str, model: str) -> None:
        self._db = botex_db
        self._name = name
        self._model = model

    def check(self) -> None:
        """Raise :class:`BudgetReached` when the budget allows no further call."""
        reached = budgets.allows(self._db, self._name)
        if reached is not None:
            raise BudgetReached(f"{budgets.BUDGET_REACHED}: spent {reached.describe()}")

    def charge(self, exchange: Exchange) -> None:
        """Add what ``exchange`` cost (at the model's list price) and its tokens to the budget."""
        prompt, completion = exchange.prompt_tokens or 0, exchange.completion_tokens or 0
        if prompt or completion:
            budgets.charge(self._db, self._name, estimated_cost(self._model, prompt, completion) or 0.0,
                           prompt + completion)
