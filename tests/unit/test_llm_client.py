"""The LLM client without a server: backoff, errors that cannot succeed, token counts, what is recorded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from botex_core.llm.litellm_adapter import answer_cache, cache_answer
from botex_core.llm.replay_cache import serving
from botex_core.llm.client import Exchange, LLMClient, LLMFailure, RetryPolicy
from botex_core.settings import load_litellm
from tests.unit.completions import ScriptedCompletion

# Set up as the bots have it: with the price table of the package, never fetched from the network.
litellm = load_litellm()
SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
NO_WAIT = RetryPolicy(max_attempts=4, base_delay=0.0)


def client_with(completion: ScriptedCompletion, **settings: Any) -> tuple[LLMClient, list[Exchange]]:
    recorded: list[Exchange] = []
    client = LLMClient(model=settings.pop("model", "openai/test-model"), retry=settings.pop("retry", NO_WAIT),
                       completion=completion, record=recorded.append, **settings)
    return client, recorded


def rate_limited() -> Exception:
    return litellm.RateLimitError("slow down", llm_provider="openai", model="test-model")


def test_rate_limits_and_server_errors_are_retried_and_switch_throttling_on() -> None:
    server_error = litellm.InternalServerError("boom", llm_provider="openai", model="test-model")
    completion = ScriptedCompletion([rate_limited(), server_error, {"x": 1}])
    client, recorded = client_with(completion)
    exchange = client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    assert completion.calls == 3
    assert exchange.response == '{"x": 1}'
    assert [e.error is not None for e in recorded] == [True, True, False]
    assert recorded[0].error.startswith("RateLimitError")
    assert client.throttle


@pytest.mark.parametrize("error", [
    litellm.AuthenticationError("bad key", llm_provider="openai", model="test-model"),
    litellm.NotFoundError("no such model", model="test-model", llm_provider="openai"),
], ids=["bad key", "unknown model"])
def test_errors_that_cannot_succeed_fail_at_once(error: Exception) -> None:
    completion = ScriptedCompletion([error, {"x": 1}])
    client, recorded = client_with(completion)
    with pytest.raises(LLMFailure, match="cannot succeed"):
        client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    assert completion.calls == 1
    assert len(recorded) == 1


def test_transient_errors_give_up_after_the_last_attempt() -> None:
    completion = ScriptedCompletion([rate_limited()])
    client, recorded = client_with(completion)
    with pytest.raises(LLMFailure, match="failed 4 times in"):
        client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    assert completion.calls == NO_WAIT.max_attempts == len(recorded)


def test_token_counts_are_recorded_and_secrets_are_not() -> None:
    completion = ScriptedCompletion([{"x": 2}])
    client, recorded = client_with(
        completion, api_key="sk-SENTINEL", completion_kwargs={"temperature": 0.2, "max_tokens": 50},
    )
    client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    assert completion.requests[0]["api_key"] == "sk-SENTINEL"
    (exchange,) = recorded
    assert (exchange.prompt_tokens, exchange.completion_tokens) == (11, 7)
    assert exchange.request["temperature"] == 0.2 and exchange.request["max_tokens"] == 50
    assert "SENTINEL" not in repr(exchange.request) and "api_key" not in exchange.request
    assert "SENTINEL" not in repr(client)


def test_an_endpoint_that_rejects_json_schema_gets_json_object() -> None:
    rejected = litellm.BadRequestError("response_format json_schema is not supported", model="m", llm_provider="openai")
    completion = ScriptedCompletion([rejected, {"x": 3}])
    client, _ = client_with(completion, api_base="http://127.0.0.1:9/only-json-object")
    client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    formats = [request["response_format"]["type"] for request in completion.requests]
    assert formats == ["json_schema", "json_object"]
    assert completion.requests[1]["response_format"]["schema"] == SCHEMA


def test_llamacpp_goes_to_the_servers_openai_endpoint_without_a_real_key() -> None:
    completion = ScriptedCompletion([{"x": 4}])
    client, _ = client_with(completion, model="llamacpp", api_base="http://127.0.0.1:8080")
    client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    request = completion.requests[0]
    assert (request["model"], request["api_base"], request["api_key"]) == ("openai/llamacpp", "http://127.0.0.1:8080/v1", "no-key")


def test_transient_errors_are_waited_out_up_to_the_outage_tolerance() -> None:
    completion = ScriptedCompletion([rate_limited()])
    client, recorded = client_with(completion)
    client.retry = RetryPolicy(base_delay=0.05, max_delay=0.05, outage_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(LLMFailure, match=r"failed \d+ times in"):
        client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    assert time.monotonic() - started >= 0.5
    assert completion.calls > 8, "retried for the whole tolerance, not for a fixed number of tries"


def test_backoff_grows_and_stays_under_its_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=8.0)
    for attempt in range(1, 10):
        assert 0 <= policy.delay(attempt) <= min(8.0, 2 ** (attempt - 1))


def test_each_call_has_a_timeout_that_a_completion_parameter_overrides() -> None:
    completion = ScriptedCompletion([{"x": 1}])
    client, _ = client_with(completion, retry=RetryPolicy(call_timeout=7.0))
    client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    client.completion_kwargs = {"timeout": 2.5}
    client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    assert [request["timeout"] for request in completion.requests] == [7.0, 2.5]


@pytest.fixture
def answers_of_an_earlier_run() -> Any:
    """A replay's cache with one answered request of participant ``p1``, served to its bots (p1 and p2);
    LiteLLM's own global cache stays as it was."""
    before = litellm.cache
    cache = answer_cache(1)
    request = LLMClient(model="openai/test-model")._request([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    cache_answer(cache, request, "p1", '{"x": 7}')
    with serving(cache, ["p1", "p2"]):
        yield cache
    assert litellm.cache is before


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_a_replay_answers_from_the_cache_of_its_original_and_counts_what_it_cannot(
    answers_of_an_earlier_run: Any, strict: bool
) -> None:
    completion = ScriptedCompletion([{"x": 1}])
    client, recorded = client_with(completion, cache_namespace="p1", cache_only=strict)
    exchange = client.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
    assert (exchange.response, exchange.cached, exchange.prompt_tokens, completion.calls) == ('{"x": 7}', True, 0, 0)

    other, recorded = client_with(completion, cache_namespace="p2", cache_only=strict)
    if strict:
        with pytest.raises(LLMFailure, match="strict replay"):
            other.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply")
        assert completion.calls == 0 and recorded[0].error.startswith("ReplayMiss")
    else:
        assert other.complete([{"role": "user", "content": "hi"}], SCHEMA, "Reply").cached is False
        assert completion.calls == 1
