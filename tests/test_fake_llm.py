"""The stand-in LLM itself: what clients other than botex-fleet's meet (function calling, token counts)."""

from __future__ import annotations

import json

import jsonschema

from botex_core.settings import load_litellm
from tests.support.fake_llm import FakeLLM

# With the price table of the package, never fetched from the network.
litellm = load_litellm()

SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 10},
        "contribution": {"type": "integer", "minimum": 0, "maximum": 100},
        "expectation": {"enum": ["Less", "Same", "More"]},
    },
    "required": ["summary", "contribution", "expectation"],
}
MESSAGES = [{"role": "user", "content": "Play the page."}]


def test_a_function_call_request_gets_a_tool_call_that_follows_the_parameters(fake_llm: FakeLLM) -> None:
    tools = [{"type": "function", "function": {"name": "PageAnswers", "parameters": SCHEMA}}]
    response = litellm.completion(
        model="openai/stand-in", api_base=fake_llm.api_base, api_key="sk-test", messages=MESSAGES,
        tools=tools, tool_choice={"type": "function", "function": {"name": "PageAnswers"}},
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and not choice.message.content
    [call] = choice.message.tool_calls
    assert call.function.name == "PageAnswers"
    jsonschema.validate(json.loads(call.function.arguments), SCHEMA)


def test_prompt_tokens_count_the_schema_sent_with_the_messages(fake_llm: FakeLLM) -> None:
    def prompt_tokens(**extra: object) -> int:
        response = litellm.completion(
            model="openai/stand-in", api_base=fake_llm.api_base, api_key="sk-test", messages=MESSAGES, **extra
        )
        return response.usage.prompt_tokens

    bare = prompt_tokens()
    with_schema = prompt_tokens(response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": SCHEMA}})
    assert with_schema - bare >= len(json.dumps(SCHEMA)) // 4
