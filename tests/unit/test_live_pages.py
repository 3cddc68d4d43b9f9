"""Interactive pages with a fake driver and the stand-in's choices: acting, chatting, going on, limits,
a page that offers nothing, and what is stored."""

from __future__ import annotations

from sqlalchemy import select

from botex_core.bot.job import BotSettings
from botex_core.bot.page import Action, ActionKind
from botex_core.bot.runner import run_bot
from botex_core.llm.client import RetryPolicy
from botex_core.otree.position import ParticipantPosition
from botex_core.store import BotStatus, LiveAction, session_scope
from botex_fleet import read_participants_from_botex_db
from tests.unit.fake_driver import LINK, FakeDriver, SchemaCompletion, live_page, offer, page, press


def play(db: str, driver: FakeDriver, at: tuple[int, int], policy: str = "act", **limits):
    """Play the driver's pages; oTree has the participant at ``at`` (page index, last page index)."""
    settings = BotSettings(url=LINK, session_id="s1", participant_id="bot1", botex_db=db, model="openai/fake",
                           wait_timeout=limits.pop("wait_timeout", 5.0), live_look_seconds=0.01, **limits)
    completion = SchemaCompletion(live_policy=policy)
    outcome = run_bot(settings, driver.opener(), lambda: ParticipantPosition(*at),
                      RetryPolicy(base_delay=0.0), completion=completion)
    return outcome, completion


def actions(db: str) -> list[tuple[str, str | None, str | None]]:
    with session_scope(db) as session:
        return [(row.action, row.label, row.value) for row in session.scalars(select(LiveAction).order_by(LiveAction.id))]


def test_a_bot_acts_on_a_live_page_until_the_page_goes_away(db: str) -> None:
    market = live_page("Market", 1, "Bids: none", (offer(),))
    traded = live_page("Market", 1, "Bids: 50. You traded at 50.")
    driver = FakeDriver([market, traded, traded, page("Results", 2, next_button=False)])
    outcome, completion = play(db, driver, at=(2, 2))
    assert outcome.status == BotStatus.FINISHED
    [(action_id, value)] = driver.acted
    assert action_id == "a1" and 0 <= int(value) <= 100
    assert actions(db) == [("enter", "Make offer", value)]
    prompts = [request["messages"][-1]["content"] for request in completion.requests]
    assert any("type Your bid and press 'Make offer' (give a whole number from 0 to 100 as 'value')" in p for p in prompts)


def test_a_chat_gets_a_message_before_the_bot_goes_on(db: str) -> None:
    chat = Action(id="a0", kind=ActionKind.CHAT, label="write a message in the chat")
    talk = live_page("Chat", 1, "Chat: nothing yet", (chat,), next_button=True, chat=True)
    said = live_page("Chat", 1, "Chat: Player 1: Stand-in reply.", (chat,), next_button=True, chat=True)
    driver = FakeDriver([talk, said, page("Results", 2, next_button=False)])
    outcome, _ = play(db, driver, at=(2, 2))
    assert outcome.status == BotStatus.FINISHED
    assert driver.acted == [("a0", "Stand-in reply.")] and driver.submitted == [{}]
    assert [step[0] for step in actions(db)] == ["chat", "go_on"]


def test_a_bot_that_reaches_its_limit_stops_deciding_and_is_not_finished_when_the_page_never_ends(db: str) -> None:
    race = live_page("Race", 1, "Your turn", (press("Add 1", "a0"), press("Add 2", "a1")))
    driver = FakeDriver([race])
    outcome, completion = play(db, driver, at=(1, 2), live_max_calls=2, wait_timeout=0.3)
    assert outcome.status == BotStatus.FAILED
    assert outcome.reason.startswith("stuck on Race: the bot stopped deciding at its limit")
    assert len([r for r in completion.requests if "action" in str(r["response_format"])]) == 2
    assert [step[0] for step in actions(db)] == ["press", "press", "stop"]


def test_a_page_with_nothing_to_do_is_watched_without_llm_calls_and_oTree_says_when_it_is_the_end(db: str) -> None:
    waiting = live_page("Race", 1, "The other player's turn")
    driver = FakeDriver([waiting])
    outcome, completion = play(db, driver, at=(1, 1))
    assert outcome.status == BotStatus.FINISHED
    assert not [r for r in completion.requests if "action" in str(r["response_format"])]


def test_a_bot_that_only_waits_is_never_finished(db: str) -> None:
    race = live_page("Race", 1, "Your turn", (press("Add 1"),))
    outcome, _ = play(db, FakeDriver([race]), at=(1, 2), policy="wait", wait_timeout=0.3)
    assert outcome.status == BotStatus.FAILED and outcome.reason.startswith("stuck on Race")
    [row] = read_participants_from_botex_db("s1", db)
    assert row["time_out"] is None
