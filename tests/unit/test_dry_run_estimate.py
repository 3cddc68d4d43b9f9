"""Dry runs: replies made from the schema alone, the retries counted from a bot's exchanges, and an
estimate that puts a model's own retries in place of the dry run's."""

from __future__ import annotations

import pytest

from botex_core.bot.job import BotSettings
from botex_core.bot.live import GO_ON, WAIT
from botex_core.bot.runner import run_bot
from botex_core.bot.schemas import LiveOption, REASON_MAX, SUMMARY_MAX, live_reply_model, page_reply_model
from botex_core.llm.client import RetryPolicy
from botex_core.llm.litellm_adapter import count_tokens
from botex_core.llm.schema_answers import SHARE_OF_ALLOWED_LENGTH, SchemaAnswerer, answer_from_schema
from botex_core.otree.position import ParticipantPosition
from botex_core.store import BotStatus
from botex_core.study.estimate import Retries, bots_retries, scaled_estimate
from tests.unit.fake_driver import LINK, FakeDriver, number_question, page


def test_a_reply_made_from_a_page_schema_is_valid_and_as_long_as_promised() -> None:
    model = page_reply_model([number_question()])
    reply = answer_from_schema(model.model_json_schema())
    model.model_validate(reply)
    assert reply["confused"] is False and answer_from_schema({"type": "boolean"}, name="understood") is True
    assert len(reply["summary"]) == round(SUMMARY_MAX * SHARE_OF_ALLOWED_LENGTH)
    assert len(reply["answers"]["give"]["reason"]) == round(REASON_MAX * SHARE_OF_ALLOWED_LENGTH)


def test_on_an_interactive_page_the_reply_takes_the_last_thing_offered() -> None:
    model = live_reply_model((LiveOption(WAIT), LiveOption("press 'Buy'"), LiveOption(GO_ON)))
    reply = answer_from_schema(model.model_json_schema())
    assert model.model_validate(reply).action.do == GO_ON


def test_the_answerer_counts_the_tokens_of_the_prompt_and_of_its_reply() -> None:
    messages = [{"role": "system", "content": "You take part in a study."}, {"role": "user", "content": "Hello."}]
    schema = {"type": "object", "properties": {"remarks": {"type": "string", "maxLength": 100}}}
    response = SchemaAnswerer()(model="gpt-4o-mini", messages=messages,
                                response_format={"type": "json_schema", "json_schema": {"schema": schema}})
    content = response.choices[0].message.content
    assert response.usage.prompt_tokens == count_tokens("gpt-4o-mini", messages=messages)
    assert response.usage.completion_tokens == count_tokens("gpt-4o-mini", text=content) > 0


def test_a_rejection_counts_as_a_retry_of_the_page(db: str) -> None:
    decide = page("Decide", 1, questions=[number_question()])
    rejected = page("Decide", 1, questions=[number_question()], errors=["give: Too many."])
    driver = FakeDriver([decide, page("Goodbye", 2, next_button=False)], rejected={decide.url: rejected})
    settings = BotSettings(url=LINK, session_id="s1", participant_id="bot1", botex_db=db, model="gpt-4o-mini")
    outcome = run_bot(settings, driver.opener(), lambda: ParticipantPosition(2, 2), RetryPolicy(base_delay=0.0),
                      completion=SchemaAnswerer())
    assert outcome.status == BotStatus.FINISHED
    retries = bots_retries(db, ["bot1"])
    # The start, Decide and the end are first tries (Goodbye, the last page, asks nothing); Decide once more.
    assert retries is not None and retries.bots == 1 and retries.calls == 4 / 3
    assert retries.prompt_tokens > 1.0


def test_a_models_retries_replace_the_dry_runs_own() -> None:
    dry_run_own = Retries(2, 1.25, 1.5, 1.2)
    model = Retries(40, 2.5, 3.0, 2.4)
    estimate = scaled_estimate("gpt-4o-mini", 10, 2, 10.0, 3000.0, 1200.0, dry_run=True,
                               retries=model.instead_of(dry_run_own))
    assert estimate.llm_calls == pytest.approx(10 / 1.25 * 2.5 * 5)
    assert estimate.prompt_tokens == pytest.approx(3000 / 1.5 * 3.0 * 5)
    assert estimate.completion_tokens == pytest.approx(1200 / 1.2 * 2.4 * 5)
    assert estimate.basis_text == "dry run, 2 bot(s) x retries of 40"
    assert estimate.cost_usd is not None and estimate.cost_usd > 0
    assert scaled_estimate("gpt-4o-mini", 2, 2, 10.0, 3000.0, 1200.0, dry_run=True).basis_text == "dry run, 2 bot(s)"
