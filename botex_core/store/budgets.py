"""Spend caps shared by a whole fleet: what a session's or a study's bots may spend on their LLM, and
what they spent, kept in the store that every worker writes to.

A bot asks before each LLM call whether its budget still allows one (:func:`allows`) and adds what
the call cost afterwards (:func:`charge`), in one statement that every worker's bot of that budget
shares; so no call starts once the spend has reached the cap, wherever the bots run (the calls
already in flight, at most one per running bot, may still add theirs).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from botex_core.store.engine import session_scope
from botex_core.store.models import Budget


# How the reason of a bot stopped by its budget begins (such a bot may run again, with a higher cap).
BUDGET_REACHED = "budget reached"


@dataclass(frozen=True)
class Spend:
    """A budget's cap and what was spent under it."""

    name: str
    max_cost: float | None
    max_tokens: int | None
    spent_cost: float
    spent_tokens: int

    @property
    def reached(self) -> bool:
        """Whether the spend has reached a cap."""
        over_cost = self.max_cost is not None and self.spent_cost >= self.max_cost
        over_tokens = self.max_tokens is not None and self.spent_tokens >= self.max_tokens
        return over_cost or over_tokens

    def describe(self) -> str:
        """What was spent against what may be, in words."""
        parts = []
        if self.max_cost is not None:
            parts.append(f"${self.spent_cost:.4f} of ${self.max_cost:.4f}")
        if self.max_tokens is not None:
            parts.append(f"{self.spent_tokens} of {self.max_tokens} tokens")
        return ", ".join(parts) or f"${self.spent_cost:.4f}, {self.spent_tokens} tokens (no cap)"


def set_budget(botex_db: str, name: str, max_cost: float | None, max_tokens: int | None) -> None:
    """Give the budget ``name`` its caps (a cap given again replaces the old one; spend is kept)."""
    with session_scope(botex_db) as session:
        row = session.get(Budget, name) or Budget(name=name, spent_cost=0.0, spent_tokens=0)
        row.max_cost, row.max_tokens = max_cost, max_tokens
        session.merge(row)


def spend(botex_db: str, name: str) -> Spend | None:
    """The budget ``name`` as it stands, if there is one."""
    with session_scope(botex_db) as session:
        row = session.get(Budget, name)
        if row is None:
            return None
        return Spend(row.name, row.max_cost, row.max_tokens, row.spent_cost or 0.0, row.spent_tokens or 0)


def allows(botex_db: str, name: str) -> Spend | None:
    """None when the budget allows another LLM call; else its spend (the cap is reached)."""
    standing = spend(botex_db, name)
    return standing if standing is not None and standing.reached else None


def charge(botex_db: str, name: str, cost: float, tokens: int) -> None:
    """Add one call's cost and tokens to the budget ``name``."""
    statement = (
        update(Budget).where(Budget.name == name)
        .values(spent_cost=Budget.spent_cost + cost, spent_tokens=Budget.spent_tokens + tokens)
    )
    with session_scope(botex_db) as session:
        session.execute(statement)
