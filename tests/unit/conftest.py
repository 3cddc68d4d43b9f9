"""What the unit tests of one bot share: a store that holds that bot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from botex_core.store import dispose_engines, ledger
from botex_core.store.ledger import NewParticipant
from tests.unit.fake_driver import LINK


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    """A SQLite store with one bot, ``bot1`` of session ``s1``, whose link is the fake driver's."""
    path = str(tmp_path / "botex.sqlite3")
    ledger.add_participants([NewParticipant("game", "s1", "bot1", False, LINK, 1)], path)
    yield path
    dispose_engines()
