"""A store that is down or out of connections is a fault of the surroundings: the bot waits it out."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from botex_core.bot.runner import _is_infrastructure
from botex_core.errors import BotexError


def test_a_busy_connection_pool_is_waited_out_like_a_store_outage() -> None:
    assert _is_infrastructure(PoolTimeoutError("QueuePool limit of size 10 overflow 20 reached"))
    assert _is_infrastructure(OperationalError("select 1", {}, Exception("connection refused")))
    assert not _is_infrastructure(BotexError("oTree rejected the answers 4 times"))
