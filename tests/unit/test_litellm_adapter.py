"""Contract tests of what the fleet relies on in LiteLLM (botex_core/llm/litellm_adapter.py), against the
installed LiteLLM and the stand-in LLM server."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import pytest
from packaging.requirements import Requirement

from botex_core.errors import ConfigurationError
from botex_core.llm import litellm_adapter
from botex_core.llm.litellm_adapter import (
    answer_cache,
    cache_answer,
    cached_answer,
    complete,
    is_transient,
    missing_keys,
    refuses_json_schema,
    token_cost,
)
from tests.conftest import REPO
from tests.support.fake_llm import FakeLLM

MESSAGES = [{"role": "user", "content": "hi"}]
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "Reply", "schema": {"type": "object"}, "strict": True}}


@pytest.fixture(scope="module")
def stand_in() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


def error_of(server: FakeLLM | None = None, api_key: str | None = "sk-test", **request: object) -> Exception:
    """The exception LiteLLM raises for one call to the stand-in (or to an address nobody serves)."""
    api_base = server.api_base if server else "http://127.0.0.1:9/v1"
    try:
        complete(model="openai/stand-in", messages=MESSAGES, api_base=api_base, num_retries=0, timeout=5,
                 **({"api_key": api_key} if api_key else {}), **request)
    except Exception as exc:  # noqa: BLE001 - the point is which kind LiteLLM raises
        return exc
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize(("fault", "transient"), [("429", True), ("500", True), ("auth", False), ("unknown_model", False)])
def test_errors_are_told_apart_by_their_types(stand_in: FakeLLM, fault: str, transient: bool) -> None:
    stand_in.inject(fault)
    assert is_transient(error_of(stand_in)) is transient


def test_an_unreachable_provider_may_come_back_and_a_missing_key_will_not(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_transient(error_of())
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    missing = error_of(api_key=None)
    assert type(missing).__name__ == "InternalServerError", "LiteLLM reports a missing key as a server error"
    assert not is_transient(missing)
    assert missing_keys("openai/stand-in") == ["OPENAI_API_KEY"]


def test_an_endpoint_that_refuses_json_schema_is_recognised() -> None:
    server = FakeLLM(json_object_only=True).start()
    try:
        refused = error_of(server, response_format=SCHEMA_FORMAT)
    finally:
        server.stop()
    assert refuses_json_schema(refused) and not is_transient(refused)


def test_stored_answers_are_found_by_request_and_namespace() -> None:
    request = {"model": "openai/stand-in", "messages": MESSAGES, "response_format": SCHEMA_FORMAT, "timeout": 300}
    answers = answer_cache(2)
    cache_answer(answers, request, "p1", '{"x": 1}')
    assert cached_answer(answers, request, "p1") == ('{"x": 1}', "stop")
    assert cached_answer(answers, request, "p2") is None
    assert cached_answer(answers, {**request, "messages": [{"role": "user", "content": "other"}]}, "p1") is None


def test_prices_come_from_the_bundled_table() -> None:
    assert token_cost("gpt-4o-mini", 1000, 1000) > 0
    assert token_cost("openai/no-such-model-anywhere", 1000, 1000) is None


def test_a_litellm_the_contract_tests_did_not_check_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    litellm_adapter.check_version()
    monkeypatch.setattr(litellm_adapter, "version", lambda package: "1.200.0")
    with pytest.raises(ConfigurationError, match="LiteLLM 1.200.0 is not a version botex-fleet was tested with"):
        litellm_adapter.check_version()


def test_the_project_asks_for_the_litellm_the_adapter_was_tested_with() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    [litellm] = [Requirement(line) for line in project["dependencies"] if Requirement(line).name == "litellm"]
    assert litellm.specifier == litellm_adapter.TESTED_LITELLM
