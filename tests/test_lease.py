"""Participant leases: one owner at a time, taken over only after expiry, and the loser notices."""

from __future__ import annotations

import time

from botex_core.store import Participant, session_scope
from botex_core.store.ledger import NewParticipant, add_participants
from botex_core.store.ledger import claim_lease, renew_leases
from botex_worker.lease import LeaseKeeper

SESSION, PARTICIPANT = "leasetest", "p1"


def stored_participant(botex_db: str) -> tuple[str, str, str]:
    add_participants([NewParticipant("demo", SESSION, PARTICIPANT, False, "http://x/InitializeParticipant/p1", 1)], botex_db)
    return botex_db, SESSION, PARTICIPANT


def test_a_live_lease_keeps_others_out_until_it_expires(sqlite_db: str) -> None:
    key = stored_participant(sqlite_db)
    assert claim_lease(*key, "worker-a/run-1", 1.0)
    assert not claim_lease(*key, "worker-b/run-1", 1.0)
    assert not claim_lease(*key, "worker-a/run-2", 1.0), "a redelivery to the same worker is another run"
    time.sleep(1.2)
    assert claim_lease(*key, "worker-b/run-1", 1.0)
    assert renew_leases(sqlite_db, ["worker-a/run-1", "worker-b/run-1"], 1.0) == {"worker-b/run-1"}


def test_the_keeper_notices_when_another_runner_took_over(sqlite_db: str) -> None:
    key = stored_participant(sqlite_db)
    assert claim_lease(*key, "slow/run", 0.6)
    with LeaseKeeper(*key, "slow/run", 0.6) as lease:
        with session_scope(sqlite_db) as session:  # as if the lease had run out and another worker claimed it
            session.get(Participant, (SESSION, PARTICIPANT)).lease_owner = "fast/run"
        assert lease.lost.wait(2)
    with session_scope(sqlite_db) as session:
        assert session.get(Participant, (SESSION, PARTICIPANT)).lease_owner == "fast/run"


def test_a_running_bot_whose_lease_expired_shows_as_recovering(sqlite_db: str) -> None:
    from botex_core.progress import session_progress
    from botex_core.store.ledger import mark_running

    key = stored_participant(sqlite_db)
    assert claim_lease(*key, "gone/run", 0.3)
    mark_running(*key)
    assert session_progress(SESSION, sqlite_db).by_status == {"running": 1}
    time.sleep(0.5)
    assert session_progress(SESSION, sqlite_db).by_status == {"recovering": 1}


def test_a_run_that_was_taken_over_cannot_write_over_its_successor(sqlite_db: str) -> None:
    from botex_core.store import BotStatus
    from botex_core.store.ledger import StoredBot, end, mark_running, requeue_stranded

    key = stored_participant(sqlite_db)
    assert claim_lease(*key, "cut-off/run", 0.3)
    mark_running(*key)
    time.sleep(0.5)  # its worker lost the network; the reconciler queues the bot again
    assert requeue_stranded(sqlite_db, StoredBot(SESSION, PARTICIPANT, "", "running", None), "recovered")
    assert renew_leases(sqlite_db, ["cut-off/run"], 10.0) == set(), "the lapsed lease went with the requeue"
    assert claim_lease(*key, "successor/run", 10.0)
    mark_running(*key)
    assert not end(*key, BotStatus.FAILED, "the old run met a page it did not expect", owner="cut-off/run")
    assert not end(*key, BotStatus.FAILED, "a task failure outside the bot")  # the successor holds a live lease
    assert end(*key, BotStatus.FINISHED, owner="successor/run")
    with session_scope(sqlite_db) as session:
        assert session.get(Participant, (SESSION, PARTICIPANT)).status == "finished"


def test_a_run_that_was_taken_over_writes_no_exchange_and_no_answer(sqlite_db: str) -> None:
    import pytest

    from botex_core.bot.job import Superseded
    from botex_core.bot.record import BotRecorder, ConversationSoFar, SubmittedAnswer
    from botex_core.bot.page import Page
    from botex_core.llm.client import Exchange
    from botex_core.store import Answer, LLMExchange

    key = stored_participant(sqlite_db)
    assert claim_lease(*key, "cut-off/run", 10.0)
    recorder = BotRecorder(*key, lease_owner="cut-off/run")
    recorder.begin()
    recorder.record_exchange("start", Exchange(request={"messages": []}, response="{}"))
    with session_scope(sqlite_db) as session:  # its worker was cut off; another run took the participant over
        session.get(Participant, (SESSION, PARTICIPANT)).lease_owner = "successor/run"
    page = Page(url="http://x/p/p1/app/Questions/2", title="Questions")
    with pytest.raises(Superseded):
        recorder.record_exchange("page", Exchange(request={"messages": []}, response="{}"))
    with pytest.raises(Superseded):
        recorder.store_answers(page, [SubmittedAnswer("q", "Q?", "yes", "because")], ConversationSoFar([], {}))
    with session_scope(sqlite_db) as session:
        assert len(session.query(LLMExchange).all()) == 1 and session.query(Answer).count() == 0


def test_one_renewer_keeps_the_leases_of_all_bots_of_a_process_and_tells_each_lost_one(sqlite_db: str) -> None:
    participants = [f"p{i}" for i in range(1, 6)]
    add_participants([NewParticipant("demo", SESSION, code, False, f"http://x/InitializeParticipant/{code}", i)
                      for i, code in enumerate(participants, start=1)], sqlite_db)
    keepers = [LeaseKeeper(sqlite_db, SESSION, code, f"run-{code}", 0.6) for code in participants]
    for code, keeper in zip(participants, keepers):
        assert claim_lease(sqlite_db, SESSION, code, f"run-{code}", 0.6)
        keeper.__enter__()
    with session_scope(sqlite_db) as session:  # another worker took p3 over
        session.get(Participant, (SESSION, "p3")).lease_owner = "other/run"
    assert keepers[2].lost.wait(2)
    time.sleep(1.0)  # longer than a lease: the others live only if they were renewed
    assert [keeper.lost.is_set() for keeper in keepers] == [False, False, True, False, False]
    for code in ("p1", "p5"):
        assert not claim_lease(sqlite_db, SESSION, code, "intruder/run", 0.6)
    for keeper in keepers:
        keeper.__exit__(None, None, None)
    assert claim_lease(sqlite_db, SESSION, "p1", "next/run", 0.6), "a bot that ended gave its lease back"


def test_leases_go_by_the_database_clock_not_the_workers(botex_db: str, monkeypatch) -> None:
    """A worker whose clock is two hours behind cannot hand its live lease to others, and one two hours
    ahead does not keep a lease that ran out."""
    import datetime as dt

    from botex_core.store import ledger

    key = stored_participant(botex_db)
    real = ledger.utcnow
    monkeypatch.setattr(ledger, "utcnow", lambda: real() - dt.timedelta(hours=2))
    assert claim_lease(*key, "behind/run", 30.0)
    monkeypatch.setattr(ledger, "utcnow", real)
    assert not claim_lease(*key, "on-time/run", 30.0), "the late worker's lease is live by the store's clock"
    assert renew_leases(botex_db, ["behind/run"], 0.5) == {"behind/run"}
    monkeypatch.setattr(ledger, "utcnow", lambda: real() + dt.timedelta(hours=2))
    time.sleep(0.8)
    assert claim_lease(*key, "ahead/run", 0.5), "the lease ran out by the store's clock"
    monkeypatch.setattr(ledger, "utcnow", real)
    time.sleep(0.8)
    assert claim_lease(*key, "on-time/run", 30.0), "the early worker's lease ran out by the store's clock too"
