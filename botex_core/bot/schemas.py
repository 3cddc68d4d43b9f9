"""The JSON the LLM must return, as pydantic models built from each page.

Choices become enums of their labels, small integer ranges enums of their
numbers, and free text gets a length cap, so that grammar-constrained local
models cannot produce answers oTree would reject for their form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from botex_core.bot.page import Question, Widget

SMALL_RANGE = 20
TEXT_ANSWER_MAX = 400
REASON_MAX = 250
SUMMARY_MAX = 1000
REMARKS_MAX = 400

NonEmptyText = Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX)]
Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX)]


class Reply(BaseModel):
    """Base of every reply: no fields beyond those asked for."""

    model_config = ConfigDict(extra="forbid")


class StartReply(Reply):
    """The reply to the start prompt."""

    task: NonEmptyText
    understood: bool


class SummaryReply(Reply):
    """The reply to a page without questions."""

    summary: NonEmptyText
    confused: bool


class EndReply(Reply):
    """The reply to the end prompt."""

    remarks: Annotated[str, Field(max_length=REMARKS_MAX)]
    confused: bool


def answer_type(question: Question) -> Any:
    """The type of a valid answer to ``question``."""
    if question.choices:
        labels = [choice.label for choice in question.choices]
        if len(set(labels)) < len(labels):
            labels = [choice.value for choice in question.choices]
        return Literal[tuple(labels)]  # type: ignore[valid-type]
    if question.widget == Widget.CHECKBOX:
        return bool
    if question.widget == Widget.INTEGER:
        low, high = question.min, question.max
        if low is not None and high is not None and 0 <= high - low <= SMALL_RANGE:
            return Literal[tuple(range(int(low), int(high) + 1))]  # type: ignore[valid-type]
        return Annotated[int, Field(ge=None if low is None else int(low), le=None if high is None else int(high))]
    if question.widget == Widget.FLOAT:
        return Annotated[float, Field(ge=question.min, le=question.max)]
    cap = min(question.max_length or TEXT_ANSWER_MAX, TEXT_ANSWER_MAX)
    return Annotated[str, Field(min_length=1 if question.required else 0, max_length=cap)]


def page_reply_model(questions: list[Question]) -> type[Reply]:
    """The reply model of a page with ``questions`` (built once per set of questions:
    the bots of a fleet read the same pages)."""
    return _reply_model_of(tuple(question.model_dump_json() for question in questions))


def reply_schema(model: type[Reply]) -> dict[str, Any]:
    """The JSON schema of a reply model (a fresh copy: requests may change it)."""
    return json.loads(_schema_text(model))


@lru_cache(maxsize=1024)
def _schema_text(model: type[Reply]) -> str:
    return json.dumps(model.model_json_schema())


@lru_cache(maxsize=1024)
def _reply_model_of(question_json: tuple[str, ...]) -> type[Reply]:
    questions = [Question.model_validate_json(item) for item in question_json]
    answer_fields: dict[str, Any] = {}
    for question in questions:
        answer_model = create_model(
            f"Answer_{question.id}",
            __base__=Reply,
            reason=(Reason, Field(description=f"Why you answer: {question.label}"[:300])),
            answer=(answer_type(question), Field(description=question.label[:300] or question.id)),
        )
        answer_fields[question.id] = (answer_model, ...)
    answers = create_model("Answers", __base__=Reply, **answer_fields)
    return create_model(
        "PageReply",
        __base__=Reply,
        answers=(answers, ...),
        summary=(NonEmptyText, ...),
        confused=(bool, ...),
    )


def form_value(question: Question, answer: Any) -> Any:
    """What the form field receives for a valid ``answer``."""
    if question.choices:
        labels = {choice.label for choice in question.choices}
        return question.choice_value(answer) if answer in labels else str(answer)
    if question.widget == Widget.CHECKBOX:
        return bool(answer)
    return str(answer)


def questions_for_prompt(questions: list[Question]) -> list[dict[str, Any]]:
    """The questions as the LLM reads them: id, kind, label, and choices or range."""
    described = []
    for question in questions:
        item: dict[str, Any] = {"id": question.id, "type": question.widget.value, "label": question.label}
        if question.choices:
            item["choices"] = [choice.label for choice in question.choices]
        if question.min is not None:
            item["min"] = question.min
        if question.max is not None:
            item["max"] = question.max
        described.append(item)
    return described


CHAT_MESSAGE_MAX = 300


@dataclass(frozen=True)
class LiveOption:
    """One thing the bot may choose on an interactive page, as the LLM reads it: ``text`` names it
    (``press 'Add 1'``); ``value`` is what it asks for besides: ``number`` (between ``low`` and
    ``high`` when given), ``integer``, ``text`` (a chat message), or None."""

    text: str
    value: str | None = None
    low: float | None = None
    high: float | None = None


def live_reply_model(options: tuple[LiveOption, ...]) -> type[Reply]:
    """The reply model of an interactive page that offers ``options``: a summary, a reason and one
    ``action`` among the options (built once per set of options)."""
    return _live_reply_model_of(options)


@lru_cache(maxsize=1024)
def _live_reply_model_of(options: tuple[LiveOption, ...]) -> type[Reply]:
    choices = [
        create_model(f"Choice{number}", __base__=Reply, do=(Literal[option.text], ...),  # type: ignore[valid-type]
                     **({"value": (_value_type(option), ...)} if option.value else {}))
        for number, option in enumerate(options)
    ]
    return create_model(
        "LiveReply",
        __base__=Reply,
        summary=(NonEmptyText, ...),
        reason=(Reason, ...),
        action=(Union[tuple(choices)] if len(choices) > 1 else choices[0], ...),  # type: ignore[valid-type]
    )


def _value_type(option: LiveOption) -> Any:
    if option.value == "text":
        return Annotated[str, Field(min_length=1, max_length=CHAT_MESSAGE_MAX)]
    low, high = option.low, option.high
    if option.value == "integer" and low is not None and high is not None and 0 <= high - low <= SMALL_RANGE:
        return Literal[tuple(range(int(low), int(high) + 1))]  # type: ignore[valid-type]
    kind = int if option.value == "integer" else float
    return Annotated[kind, Field(ge=low, le=high)]
