"""A worker's bots reach the LLM provider all at once, not a hundred at a time."""

from __future__ import annotations

import threading

from botex_core.settings import load_litellm
from tests.support.fake_llm import FakeLLM

LATENCY = 5.0
BOTS = 130
SCHEMA = {"type": "json_schema", "json_schema": {"name": "Reply", "strict": True, "schema": {
    "type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"], "additionalProperties": False}}}


def test_more_than_a_hundred_calls_of_one_process_are_in_flight_together() -> None:
    litellm = load_litellm()
    fake = FakeLLM(latency=LATENCY).start()
    try:
        request = {"model": "openai/stand-in", "api_base": fake.api_base, "api_key": "sk-test",
                   "messages": [{"role": "user", "content": "Play the page."}], "response_format": SCHEMA}
        litellm.completion(**request)  # as in a worker, the bots share the client the first call made
        fake.arrivals.clear()
        calls = [threading.Thread(target=litellm.completion, kwargs=request) for _ in range(BOTS)]
        for call in calls:
            call.start()
        for call in calls:
            call.join(timeout=60)
    finally:
        fake.stop()
    arrivals = sorted(fake.arrivals)
    assert len(arrivals) == BOTS
    # With a cap of 100 connections, the 101st call could only leave when a first one came back.
    assert arrivals[100] - arrivals[0] < LATENCY, "the 101st call waited for a free connection"
