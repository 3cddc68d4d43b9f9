"""The bot's dialogue without a server: retries, clamping, confused follow-ups, what each retry sends."""

from __future__ import annotations

from typing import Any

import pytest

from botex_core.bot.dialogue import MAX_CONFUSED_TRIES, MAX_REPLY_TRIES, Dialogue
from botex_core.bot.page import Page, Question, Widget
from botex_core.bot.prompts import build_prompts
from botex_core.bot.schemas import REASON_MAX
from botex_core.llm.client import LLMClient, LLMFailure, RetryPolicy
from tests.unit.completions import ScriptedCompletion, reply

PAGE = Page(
    url="http://127.0.0.1:8000/p/abc123/survey/Decide/3",
    title="Decide",
    text="How many points do you give?",
    questions=[Question(id="give", widget=Widget.INTEGER, label="Points to give", min=0, max=100)],
    has_next_button=True,
)


def page_reply(give: Any, reason: str = "fair", confused: bool = False) -> dict[str, Any]:
    return {"answers": {"give": {"reason": reason, "answer": give}}, "summary": "I give points.", "confused": confused}


def dialogue_with(completion: ScriptedCompletion, full_history: bool = False) -> Dialogue:
    client = LLMClient(model="openai/test-model", retry=RetryPolicy(base_delay=0.0), completion=completion)
    return Dialogue(client, build_prompts(None), full_history)


def test_a_valid_reply_is_taken_and_the_summary_kept() -> None:
    completion = ScriptedCompletion([page_reply(40)])
    dialogue = dialogue_with(completion)
    answer = dialogue.read_page(PAGE)
    assert answer.answers.give.answer == 40
    assert dialogue.summary == "I give points."
    assert dialogue.phase == "page:3:Decide"
    assert completion.calls == 1


def test_a_retry_asks_the_page_again_with_the_note_and_without_the_faulty_reply() -> None:
    completion = ScriptedCompletion(["{not json", page_reply(10)])
    dialogue = dialogue_with(completion)
    assert dialogue.read_page(PAGE).answers.give.answer == 10
    retry_messages = completion.requests[1]["messages"]
    assert [m["role"] for m in retry_messages] == ["system", "user"]
    assert "{not json" not in retry_messages[1]["content"]
    assert retry_messages[1]["content"].endswith(completion.requests[0]["messages"][1]["content"])
    assert any(m["content"] == "{not json" for m in dialogue.messages), "the conversation keeps the faulty reply"


@pytest.mark.parametrize("full_history", [False, True])
def test_a_cut_off_reply_is_never_sent_back(full_history: bool) -> None:
    completion = ScriptedCompletion([reply('{"answers": {"give"', finish_reason="length"), page_reply(5)])
    dialogue = dialogue_with(completion, full_history)
    assert dialogue.read_page(PAGE).answers.give.answer == 5
    assert all('{"answers": {"give"' not in m["content"] for m in completion.requests[1]["messages"])


def test_a_confused_bot_is_asked_once_more_then_goes_on_with_its_last_valid_reply() -> None:
    completion = ScriptedCompletion([page_reply(1, confused=True)])
    dialogue = dialogue_with(completion)
    answer = dialogue.read_page(PAGE)
    assert answer.answers.give.answer == 1
    assert completion.calls == MAX_CONFUSED_TRIES + 1
    assert dialogue.confused_replies == 1


def test_numbers_out_of_range_on_every_try_are_set_to_their_bound_with_a_note_that_fits() -> None:
    completion = ScriptedCompletion([page_reply(250, reason="r" * REASON_MAX)])
    dialogue = dialogue_with(completion)
    answer = dialogue.read_page(PAGE).answers.give
    assert completion.calls == MAX_REPLY_TRIES
    assert answer.answer == 100
    assert len(answer.reason) <= REASON_MAX
    assert answer.reason.endswith("to 100, the nearest allowed value]")


def test_no_valid_reply_after_every_try_fails_the_page() -> None:
    completion = ScriptedCompletion([{"answers": {}, "summary": "", "confused": False}])
    with pytest.raises(LLMFailure, match=f"no valid reply after {MAX_REPLY_TRIES} tries"):
        dialogue_with(completion).read_page(PAGE)
    assert completion.calls == MAX_REPLY_TRIES


def test_oTree_errors_reach_the_model_with_the_page() -> None:
    completion = ScriptedCompletion([page_reply(7)])
    dialogue_with(completion).read_page(PAGE, errors=["give: Value must be at least 10"])
    prompt = completion.requests[0]["messages"][-1]["content"]
    assert "give: Value must be at least 10" in prompt and "How many points do you give?" in prompt


def test_start_and_end_use_their_own_replies() -> None:
    completion = ScriptedCompletion([{"task": "play a game", "understood": True}, {"remarks": "none", "confused": False}])
    dialogue = dialogue_with(completion)
    assert dialogue.start().understood is True
    assert dialogue.end().remarks == "none"
    assert [request["response_format"]["json_schema"]["name"] for request in completion.requests] == ["StartReply", "EndReply"]


def test_a_persona_follows_the_system_prompt_in_every_request() -> None:
    completion = ScriptedCompletion([{"task": "play a game", "understood": True}, page_reply(3)])
    client = LLMClient(model="openai/test-model", retry=RetryPolicy(base_delay=0.0), completion=completion)
    dialogue = Dialogue(client, build_prompts(None), False, persona="a 57-year-old carpenter")
    dialogue.start()
    dialogue.read_page(PAGE)
    system = build_prompts(None)["system"]
    for request in completion.requests:
        first = request["messages"][0]
        assert first["role"] == "system" and first["content"].startswith(system)
        assert first["content"].endswith("stay that person on every page: a 57-year-old carpenter")
    assert dialogue_with(ScriptedCompletion([page_reply(3)])).messages[0]["content"] == system
