"""Values that may be credentials are told by where they sit, sent to the provider and recorded nowhere."""

from __future__ import annotations

import pytest

from botex_core.llm.client import LLMClient, LLMFailure, RetryPolicy
from botex_core.llm.credentials import (
    WITHHELD,
    credential_paths,
    credentials_only,
    is_credential_name,
    merged,
    withheld,
)
from tests.unit.completions import ScriptedCompletion

PARAMETERS = {
    "temperature": 0.5,
    "stop": ["END"],
    "extra_headers": {"Helicone-Auth": "Bearer s1", "X-Gateway": "s2", "api-key": "s3", "X-Api-Key": "s4",
                      "Ocp-Apim-Subscription-Key": "s5"},
    "extra_body": {"top_k": 20, "gateway": {"route": "s6"}, "keys": ["s7"]},
    "azure_ad_token": "s8",
}
SECRETS = [f"s{n}" for n in range(1, 9)]


@pytest.mark.parametrize("name", ["api_key", "Helicone-Auth", "X-Api-Key", "api-key", "Ocp-Apim-Subscription-Key",
                                  "Authorization", "apiKey", "access_token", "client_secret", "password"])
def test_names_that_speak_of_credentials(name: str) -> None:
    assert is_credential_name(name)


@pytest.mark.parametrize("name", ["max_tokens", "author", "temperature", "X-Gateway", "monkey", "top_k"])
def test_names_that_do_not(name: str) -> None:
    assert not is_credential_name(name)


def test_every_header_and_every_text_inside_a_table_is_withheld_whatever_its_name() -> None:
    hidden = withheld(PARAMETERS)
    assert not any(secret in repr(hidden) for secret in SECRETS)
    assert hidden["extra_headers"]["X-Gateway"] == WITHHELD and hidden["extra_body"]["gateway"]["route"] == WITHHELD
    assert hidden["extra_body"]["top_k"] == 20 and hidden["temperature"] == 0.5 and hidden["stop"] == ["END"]
    assert set(credential_paths(PARAMETERS)) == {
        "extra_headers.Helicone-Auth", "extra_headers.X-Gateway", "extra_headers.api-key", "extra_headers.X-Api-Key",
        "extra_headers.Ocp-Apim-Subscription-Key", "extra_body.gateway.route", "extra_body.keys", "azure_ad_token"}
    assert merged(hidden, credentials_only(PARAMETERS)) == PARAMETERS


def test_the_provider_gets_the_values_and_the_record_does_not() -> None:
    completion = ScriptedCompletion([{"ok": True}])
    recorded = []
    client = LLMClient(model="openai/m", completion_kwargs=withheld(PARAMETERS),
                       private_parameters=credentials_only(PARAMETERS), completion=completion,
                       record=recorded.append)
    exchange = client.complete([{"role": "user", "content": "hi"}], {"type": "object"}, "Reply")
    sent = completion.requests[0]
    assert sent["extra_headers"]["Helicone-Auth"] == "Bearer s1" and sent["extra_body"]["gateway"]["route"] == "s6"
    assert recorded == [exchange]
    assert not any(secret in repr(exchange.request) for secret in SECRETS)
    assert exchange.request["extra_headers"]["Helicone-Auth"] == WITHHELD


def test_a_credential_queued_without_its_value_fails_the_call_instead_of_sending_the_placeholder() -> None:
    completion = ScriptedCompletion([{"ok": True}])
    client = LLMClient(model="openai/m", completion_kwargs=withheld(PARAMETERS), completion=completion,
                       retry=RetryPolicy(base_delay=0.0))
    with pytest.raises(LLMFailure, match="give it to this process in BOTEX_LLM_PARAMETERS"):
        client.complete([{"role": "user", "content": "hi"}], {"type": "object"}, "Reply")
    assert completion.requests == []
