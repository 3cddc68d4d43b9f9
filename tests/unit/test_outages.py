"""How a bot waits out an outage: backoff by failed runs, looks while services are down, the deadline,
and the lease a failed run left behind taken over by the next run at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from botex_core.bot.job import BotSettings
from botex_core.store import dispose_engines, ledger
from botex_core.store.ledger import NewParticipant
from botex_worker.message import BotMessage
from botex_worker.outages import PROBE_SECONDS, OutageTooLong, next_look, next_run, service_down

BOT = BotMessage.of(BotSettings(url="http://otree/InitializeParticipant/p1", session_id="s1", participant_id="p1"),
                    "botex.openai")


def test_the_pause_grows_with_the_runs_that_failed_and_the_outage_counts_from_its_start() -> None:
    first, pause = next_run(BOT, "oTree down", outage_seconds=900, first_pause=10, owner="run-1", now=1000.0)
    assert pause == 10 and first.outage_since == 1000.0 and first.previous_owner == "run-1"
    second, pause = next_run(first, "oTree down", 900, 10, now=1030.0)
    assert pause == 20 and second.outage_since == 1000.0 and second.previous_owner == "run-1"
    third, pause = next_run(second.model_copy(update={"infrastructure_failures": 9}), "oTree down", 900, 10, now=1040.0)
    assert pause == 60


def test_while_the_services_are_down_the_bot_only_looks_again_until_the_deadline() -> None:
    waiting = BOT.model_copy(update={"outage_since": 1000.0})
    assert next_look(waiting, "the store does not answer yet", 900, now=1500.0) == PROBE_SECONDS
    with pytest.raises(OutageTooLong, match="gave up after 900 s of outage: the store does not answer yet"):
        next_look(waiting, "the store does not answer yet", 900, now=1900.0)
    with pytest.raises(OutageTooLong):
        next_run(waiting, "oTree down", 900, 10, now=1901.0)


def test_a_run_that_failed_without_giving_its_lease_back_is_followed_at_once(tmp_path: Path) -> None:
    db = str(tmp_path / "botex.sqlite3")
    ledger.add_participants([NewParticipant("game", "s1", "p1", False, "http://otree/InitializeParticipant/p1")], db)
    try:
        assert ledger.claim_lease(db, "s1", "p1", "run-1", seconds=60)
        # run-1 failed while the store was down: its lease is still there for a minute
        assert not ledger.claim_lease(db, "s1", "p1", "run-2", seconds=60)
        assert not ledger.claim_lease(db, "s1", "p1", "run-2", seconds=60, previous_owner="someone-else")
        assert ledger.claim_lease(db, "s1", "p1", "run-2", seconds=60, previous_owner="run-1")
    finally:
        dispose_engines()


def test_the_probe_names_the_service_that_does_not_answer(tmp_path: Path) -> None:
    db = str(tmp_path / "botex.sqlite3")
    try:
        assert service_down(db, "http://127.0.0.1:9/InitializeParticipant/p1") == "the oTree server"
        assert service_down("postgresql://u:p@127.0.0.1:9/botex", "http://127.0.0.1:9/x") == "the store"
    finally:
        dispose_engines()
