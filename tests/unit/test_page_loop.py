"""The page loop (``run_bot``) with a fake driver, a fake LLM and oTree's word on where the bot is from a script."""

from __future__ import annotations

from collections.abc import Callable

from botex_core.bot.http_driver import PageNeedsBrowserError
from botex_core.bot.job import BotSettings
from botex_core.bot.runner import run_bot
from botex_core.errors import OtreeAuthError
from botex_core.llm.client import RetryPolicy
from botex_core.otree.position import ParticipantPosition
from botex_core.store import BotStatus
from botex_fleet import read_participants_from_botex_db, read_responses_from_botex_db
from tests.unit.fake_driver import LINK, FakeDriver, SchemaCompletion, number_question, page


def settings(db: str, wait_timeout: float = 5.0) -> BotSettings:
    return BotSettings(url=LINK, session_id="s1", participant_id="bot1", botex_db=db, model="openai/fake",
                       wait_timeout=wait_timeout)


def otree_says(*positions: ParticipantPosition | Exception) -> Callable[[], ParticipantPosition]:
    """oTree's answers in turn (the last repeats)."""
    answers = list(positions)

    def check() -> ParticipantPosition:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer
    return check


def play(db: str, driver: FakeDriver, position: Callable[[], ParticipantPosition], **options):
    completion = SchemaCompletion()
    outcome = run_bot(options.pop("settings", None) or settings(db), driver.opener(), position,
                      RetryPolicy(base_delay=0.0), completion=completion, **options)
    [row] = read_participants_from_botex_db("s1", db)
    assert (row["status"], row["status_reason"]) == (outcome.status.value, outcome.reason)
    return outcome, completion


def test_a_bot_finishes_when_otree_has_it_on_its_last_page(db: str) -> None:
    driver = FakeDriver([page("Intro", 1), page("Decide", 2, questions=[number_question()]),
                         page("Goodbye", 3, next_button=False)])
    outcome, completion = play(db, driver, otree_says(ParticipantPosition(3, 3, "game", "Goodbye")))
    assert outcome.status == BotStatus.FINISHED
    assert driver.submitted == [{}, {"give": "5"}]
    assert [r["answer"] for r in read_responses_from_botex_db(db, "s1")] == ["5"]
    assert len(completion.requests) == 4  # start, two pages, end


def test_a_page_with_no_way_on_before_the_last_is_watched_until_otree_moves_on(db: str) -> None:
    results = page("Results", 2, next_button=False)
    driver = FakeDriver([page("Intro", 1), results, results, results, page("Goodbye", 3, next_button=False)])
    outcome, _ = play(db, driver, otree_says(ParticipantPosition(2, 3, "game", "Results"),
                                             ParticipantPosition(3, 3, "game", "Goodbye")))
    assert outcome.status == BotStatus.FINISHED
    assert driver.waits == 3


def test_a_dead_end_is_never_finished(db: str) -> None:
    driver = FakeDriver([page("Intro", 1), page("Results", 2, next_button=False)])
    outcome, completion = play(db, driver, otree_says(ParticipantPosition(2, 4, "game", "Results")),
                               settings=settings(db, wait_timeout=0.3))
    assert outcome.status == BotStatus.FAILED
    assert outcome.reason.startswith("stuck on Results: the page has no way on, oTree has it on page 2 of 4")
    assert driver.waits > 3
    assert all("remarks" not in str(request["response_format"]) for request in completion.requests)


def test_a_dead_end_gives_the_slot_back_like_a_wait_page(db: str) -> None:
    driver = FakeDriver([page("Intro", 1), page("Results", 2, next_button=False)])
    outcome, _ = play(db, driver, otree_says(ParticipantPosition(2, 4)), give_back_after=0.1)
    assert outcome.status == BotStatus.QUEUED and outcome.waiting.url.endswith("/Results/2")


def test_a_bot_is_not_finished_when_otree_cannot_say_where_it_is(db: str) -> None:
    driver = FakeDriver([page("Goodbye", 1, next_button=False)])
    refused = OtreeAuthError("oTree server at http://otree.test rejected the REST key")
    outcome, _ = play(db, driver, otree_says(refused))
    assert outcome.status == BotStatus.FAILED and not outcome.retryable
    assert outcome.reason == ("cannot ask oTree whether Goodbye is the last page: "
                              "oTree server at http://otree.test rejected the REST key")


def test_a_long_wait_page_abandons_the_bot(db: str) -> None:
    waiting = page("Wait", 2, next_button=False, wait=True)
    driver = FakeDriver([page("Intro", 1), waiting])
    outcome, _ = play(db, driver, otree_says(ParticipantPosition(1, 3)), settings=settings(db, wait_timeout=0.2))
    assert outcome.status == BotStatus.ABANDONED
    assert outcome.reason == "waited more than 0 s on the wait page Wait"


def test_answers_that_otree_rejects_go_back_to_the_llm(db: str) -> None:
    decide = page("Decide", 1, questions=[number_question()])
    rejected = page("Decide", 1, questions=[number_question()], errors=["give: Too many."])
    driver = FakeDriver([decide, page("Goodbye", 2, next_button=False)], rejected={decide.url: rejected})
    outcome, completion = play(db, driver, otree_says(ParticipantPosition(2, 2)))
    assert outcome.status == BotStatus.FINISHED
    assert len(driver.submitted) == 2
    assert any("give: Too many." in m["content"] for r in completion.requests for m in r["messages"])


def test_a_run_that_lost_its_lease_stops_and_leaves_the_store_to_its_successor(db: str) -> None:
    driver = FakeDriver([page("Intro", 1), page("Decide", 2, questions=[number_question()]),
                         page("Goodbye", 3, next_button=False)])
    looks = iter([False, True])
    completion = SchemaCompletion()
    outcome = run_bot(settings(db), driver.opener(), otree_says(ParticipantPosition(3, 3)), RetryPolicy(base_delay=0.0),
                      superseded=lambda: next(looks, True), completion=completion)
    assert outcome.status == BotStatus.RUNNING and outcome.reason == "lost its lease to another runner"
    assert driver.submitted == [{}]
    [row] = read_participants_from_botex_db("s1", db)
    assert row["status"] == "running" and read_responses_from_botex_db(db, "s1") == []


def test_a_page_the_driver_cannot_play_fails_the_bot_with_the_page(db: str) -> None:
    class HttpOnly(FakeDriver):
        def submit(self, answers):
            raise PageNeedsBrowserError("the page Market needs a browser: a live page (use the driver auto or browser)")

    driver = HttpOnly([page("Market", 1)])
    outcome, _ = play(db, driver, otree_says(ParticipantPosition(1, 2)))
    assert outcome.status == BotStatus.FAILED and not outcome.retryable
    assert outcome.reason.startswith("the page Market needs a browser")
