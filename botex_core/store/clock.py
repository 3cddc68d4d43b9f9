"""The store's own clock: leases are timed by the database, not by each worker's clock.

Workers on many machines share one store; their clocks may differ by more than
a lease. Every lease is taken, renewed and judged expired against the time the
database reports (naive UTC, in the form the store keeps its timestamps in),
so two workers can never disagree about whether a lease still holds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class database_now(FunctionElement):  # noqa: N801 - an SQL function, named as SQL names them
    """The database's current time plus ``seconds``, as naive UTC."""

    type = DateTime()
    inherit_cache = True

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__(literal(float(seconds), Float()))


@compiles(database_now, "postgresql")
def _postgresql_now(element: database_now, compiler: Any, **kw: Any) -> str:
    # clock_timestamp(): the time of the statement's moment, not of its transaction's start.
    return f"(timezone('utc', clock_timestamp()) + make_interval(secs => {compiler.process(element.clauses, **kw)}))"


@compiles(database_now, "sqlite")
def _sqlite_now(element: database_now, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy keeps SQLite timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text; %f gives milliseconds.
    offset = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', ({offset}) || ' seconds') || '000')"
