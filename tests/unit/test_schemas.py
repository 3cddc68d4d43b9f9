"""Reply models built from pages: what the LLM may answer and what the form then receives."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from botex_core.bot.page import Choice, Question, Widget
from botex_core.bot.schemas import (
    SMALL_RANGE,
    TEXT_ANSWER_MAX,
    form_value,
    page_reply_model,
    questions_for_prompt,
    reply_schema,
)


def answer_schema(question: Question) -> dict:
    schema = page_reply_model([question]).model_json_schema()
    answer_model = schema["$defs"][f"Answer_{question.id}"]
    return answer_model["properties"]["answer"]


def valid(question: Question, answer: object) -> bool:
    model = page_reply_model([question])
    try:
        model.model_validate({"answers": {question.id: {"reason": "r", "answer": answer}}, "summary": "s", "confused": False})
    except ValidationError:
        return False
    return True


def test_a_small_integer_range_is_an_enum_and_a_large_one_has_bounds() -> None:
    small = Question(id="q", widget=Widget.INTEGER, label="L", min=1, max=5)
    assert answer_schema(small)["enum"] == [1, 2, 3, 4, 5]
    large = Question(id="q", widget=Widget.INTEGER, label="L", min=0, max=SMALL_RANGE + 80)
    assert (answer_schema(large)["minimum"], answer_schema(large)["maximum"]) == (0, SMALL_RANGE + 80)
    assert valid(large, 100) and not valid(large, 101) and not valid(large, -1)


def test_choices_are_their_labels_and_the_form_gets_their_values() -> None:
    question = Question(id="c", widget=Widget.RADIO, label="Pick", choices=[Choice(value="1", label="Yes"), Choice(value="0", label="No")])
    assert answer_schema(question)["enum"] == ["Yes", "No"]
    assert form_value(question, "No") == "0"
    assert not valid(question, "Maybe")


def test_duplicate_labels_fall_back_to_values() -> None:
    question = Question(id="c", widget=Widget.SELECT, label="Pick", choices=[Choice(value="a", label="Same"), Choice(value="b", label="Same")])
    assert answer_schema(question)["enum"] == ["a", "b"]
    assert form_value(question, "b") == "b"


def test_text_answers_are_capped_by_the_page_and_by_botex() -> None:
    short = Question(id="t", widget=Widget.TEXT, label="Say", max_length=10)
    assert answer_schema(short)["maxLength"] == 10
    long = Question(id="t", widget=Widget.TEXTAREA, label="Say", max_length=TEXT_ANSWER_MAX * 3)
    assert answer_schema(long)["maxLength"] == TEXT_ANSWER_MAX
    assert not valid(short, "") and valid(Question(id="t", widget=Widget.TEXT, label="Say", required=False), "")


def test_replies_with_fields_nobody_asked_for_are_invalid() -> None:
    question = Question(id="q", widget=Widget.CHECKBOX, label="Agree")
    model = page_reply_model([question])
    with pytest.raises(ValidationError, match="extra"):
        model.model_validate({"answers": {"q": {"reason": "r", "answer": True}}, "summary": "s", "confused": False, "mood": "ok"})
    assert form_value(question, True) is True


def test_the_prompt_lists_questions_with_their_choices_and_bounds() -> None:
    questions = [
        Question(id="n", widget=Widget.FLOAT, label="Share", min=0, max=1),
        Question(id="c", widget=Widget.RADIO, label="Pick", choices=[Choice(value="1", label="Yes")]),
    ]
    assert questions_for_prompt(questions) == [
        {"id": "n", "type": "float", "label": "Share", "min": 0, "max": 1},
        {"id": "c", "type": "radio", "label": "Pick", "choices": ["Yes"]},
    ]


def test_a_page_model_is_built_once_per_set_of_questions_and_its_schema_copied_for_each_request() -> None:
    age = Question(id="age", widget=Widget.INTEGER, label="Your age", min=18, max=99)
    same_age = Question(id="age", widget=Widget.INTEGER, label="Your age", min=18, max=99)
    older = Question(id="age", widget=Widget.INTEGER, label="Your age", min=60, max=99)
    assert page_reply_model([age]) is page_reply_model([same_age])
    assert page_reply_model([age]) is not page_reply_model([older])
    first, second = reply_schema(page_reply_model([age])), reply_schema(page_reply_model([age]))
    assert first == second == page_reply_model([age]).model_json_schema()
    first["properties"].clear()
    assert reply_schema(page_reply_model([age]))["properties"], "a request that changes its schema changes no other"
