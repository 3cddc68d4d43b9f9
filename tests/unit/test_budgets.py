"""Spend caps with a fake driver and a scripted LLM: no call once the cap is reached, bots not yet
started do not start, a higher cap lets the bots carry on, and a cost cap needs a price."""

from __future__ import annotations

from pathlib import Path

import pytest

from botex_core.bot.job import BotSettings
from botex_core.bot.runner import run_bot
from botex_core.errors import ConfigurationError
from botex_core.llm.client import RetryPolicy
from botex_core.otree.position import ParticipantPosition
from botex_core.store import BotStatus, budgets, dispose_engines, ledger
from botex_core.progress import session_progress
from botex_core.store.ledger import NewParticipant, QueuedBot
from botex_fleet import read_participants_from_botex_db
from botex_worker.dispatch import session_bots
from botex_worker.message import BotMessage
from botex_worker.submission import Submission
from tests.unit.fake_driver import FakeDriver, SchemaCompletion, number_question, page

LINKS = {code: f"http://otree.test/InitializeParticipant/{code}" for code in ("b1", "b2")}


@pytest.fixture
def db(tmp_path: Path):
    path = str(tmp_path / "botex.sqlite3")
    ledger.add_participants([NewParticipant("game", "s1", code, False, link, n)
                             for n, (code, link) in enumerate(LINKS.items(), start=1)], path)
    yield path
    dispose_engines()


def pages() -> list:
    return [page("Intro", 1), page("Decide", 2, questions=[number_question()]), page("Goodbye", 3, next_button=False)]


def play(db: str, code: str, driver: FakeDriver, completion: SchemaCompletion):
    settings = BotSettings(url=LINKS[code], session_id="s1", participant_id=code, botex_db=db, model="openai/fake",
                           budget="session:s1")
    return run_bot(settings, driver.opener(), lambda: ParticipantPosition(3, 3), RetryPolicy(base_delay=0.0),
                   completion=completion)


def test_no_call_starts_once_the_cap_is_reached_and_a_higher_cap_carries_on(db: str) -> None:
    budgets.set_budget(db, "session:s1", None, 40)  # a call of the scripted LLM uses 18 tokens
    completion = SchemaCompletion()
    first = play(db, "b1", FakeDriver(pages()), completion)
    assert first.status == BotStatus.ABANDONED and first.reason == "budget reached: spent 54 of 40 tokens"
    assert len(completion.requests) == 3
    second = play(db, "b2", FakeDriver(pages()), completion)
    assert second.status == BotStatus.ABANDONED and len(completion.requests) == 3  # it did not start
    rows = {row["participant_id"]: row for row in read_participants_from_botex_db("s1", db)}
    assert rows["b2"]["time_in"] is None
    assert [bot.participant_id for bot in ledger.unfinished_bots("s1", db)] == ["b1", "b2"]  # retry takes them
    budgets.set_budget(db, "session:s1", None, 1000)
    assert play(db, "b1", FakeDriver(pages()), completion).status == BotStatus.FINISHED
    assert budgets.spend(db, "session:s1").spent_tokens == 18 * len(completion.requests)


def test_a_submission_with_a_cap_gives_the_session_its_budget_and_refuses_a_cost_cap_without_a_price(db: str) -> None:
    capped = Submission(embedded=True, max_cost=0.5)
    bots = session_bots("s1", db, capped, model="gpt-4o-mini")
    assert {bot.budget for bot in bots} == {"session:s1"}
    assert budgets.spend(db, "session:s1").max_cost == 0.5
    with pytest.raises(ConfigurationError, match="LiteLLM has no price for model 'openai/no-such-model'"):
        session_bots("s1", db, capped, model="openai/no-such-model")


def test_sessions_submitted_together_share_one_budget_and_each_shows_its_spend(db: str) -> None:
    ledger.add_participants([NewParticipant("game", "s2", "c1", False, "http://otree.test/InitializeParticipant/c1", 1)], db)
    capped = Submission(embedded=True, max_tokens=1000)
    for session_id in ("s1", "s2"):
        bots = session_bots(session_id, db, capped, model="openai/fake", budget="session:s1")
        ledger.mark_queued(db, session_id, {bot.participant_id: QueuedBot(BotMessage.of(bot, "botex.openai").stored(),
                                                                          bot.model) for bot in bots})
        assert {bot.budget for bot in bots} == {"session:s1"}
    budgets.charge(db, "session:s1", 0.0, 400)
    assert budgets.spend(db, "session:s2") is None  # no budget of its own: the submission's is the one
    assert session_progress("s2", db).spend == session_progress("s1", db).spend == "400 of 1000 tokens"
