"""Everything botex-fleet asks of LiteLLM, behind one module.

The rest of the package calls these functions and never LiteLLM itself: a
completion, whether an error may pass (by LiteLLM's exception types), whether
an endpoint refused a JSON schema, the provider keys a model needs, prices,
and an in-memory cache of stored answers for replays. What each relies on is
checked against the installed LiteLLM by ``tests/unit/test_litellm_adapter.py``;
:func:`litellm` refuses a release outside the ones those tests ran on.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from types import ModuleType
from typing import Any

from packaging.specifiers import SpecifierSet

from botex_core.settings import load_litellm
from botex_core.versions import refuse_untested

# The LiteLLM releases the contract tests have checked (pyproject.toml asks for the same).
TESTED_LITELLM = SpecifierSet(">=1.110,<1.111")
# What a provider says when it will not take a JSON schema as the response format.
_SCHEMA_REFUSALS = ("response_format", "json_schema")


def check_version() -> None:
    """Refuse a LiteLLM whose behaviour the contract tests have not checked.

    Raises:
        ConfigurationError: The installed LiteLLM is outside :data:`TESTED_LITELLM`.
    """
    refuse_untested("LiteLLM", "litellm", version("litellm"), TESTED_LITELLM)


@cache
def litellm() -> ModuleType:
    """LiteLLM, set up once per process (see :func:`botex_core.settings.load_litellm`) and of a tested release."""
    check_version()
    return load_litellm()


def complete(**request: Any) -> Any:
    """One completion: LiteLLM's ``completion``."""
    return litellm().completion(**request)


def is_transient(exc: Exception) -> bool:
    """Whether the error may pass if tried again: rate limits, timeouts, connection and server errors,
    but not an error the provider's client raised before sending anything (a missing key, which
    LiteLLM reports as a server error)."""
    if _refused_before_sending(exc):
        return False
    module = litellm()
    transient = (module.RateLimitError, module.Timeout, module.APIConnectionError, module.InternalServerError,
                 module.ServiceUnavailableError)
    status = getattr(exc, "status_code", None)
    return isinstance(exc, transient) or (isinstance(status, int) and (status == 429 or status >= 500))


def _refused_before_sending(exc: BaseException) -> bool:
    """Whether the error began in the OpenAI client itself, not in an answer or a connection
    (those are ``openai.APIError``s)."""
    import openai

    first: BaseException = exc
    while first.__context__ is not None and first.__context__ is not first:
        first = first.__context__
    return isinstance(first, openai.OpenAIError) and not isinstance(first, openai.APIError)


def refuses_json_schema(exc: Exception) -> bool:
    """Whether the endpoint refused a ``json_schema`` response format (it may take ``json_object``)."""
    return isinstance(exc, litellm().BadRequestError) and any(sign in str(exc) for sign in _SCHEMA_REFUSALS)


def missing_keys(model: str, api_base: str | None = None) -> list[str]:
    """The environment variables LiteLLM would need for ``model`` and does not find (none when it cannot tell)."""
    try:
        return list(litellm().validate_environment(model=model, api_base=api_base).get("missing_keys", []))
    except Exception:  # noqa: BLE001 - LiteLLM cannot tell for some models; the first call will
        return []


def token_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """US dollars for the tokens at ``model``'s list price; None when LiteLLM has no price for it."""
    try:
        prompt_cost, completion_cost = litellm().cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001 - LiteLLM raises several kinds for models it has no price for
        return None
    return prompt_cost + completion_cost


def answer_cache(entries: int) -> Any:
    """An in-memory cache of LiteLLM's for ``entries`` answers, kept as long as a replay may run
    (LiteLLM's default keeps 200 entries for 10 minutes)."""
    from litellm.caching.in_memory_cache import InMemoryCache

    answers = litellm().Cache(type="local")
    answers.cache = InMemoryCache(max_size_in_memory=entries + 1, default_ttl=7 * 24 * 3600)
    return answers


def cache_answer(answers: Any, request: dict[str, Any], namespace: str, content: str) -> None:
    """Keep ``content`` as the answer to ``request`` (keyed as LiteLLM keys requests) under ``namespace``."""
    reply = litellm().ModelResponse(
        model=request.get("model"),
        choices=[{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    )
    answers.add_cache(result=reply, **request, cache={"namespace": namespace})


def cached_answer(answers: Any, request: dict[str, Any], namespace: str) -> tuple[str, str | None] | None:
    """The content and finish reason kept for ``request`` under ``namespace``; None when there is none."""
    kept = answers.get_cache(**request, cache={"namespace": namespace})
    if kept is None:
        return None
    choice = litellm().ModelResponse(**kept).choices[0]
    return choice.message.content, choice.finish_reason


def count_tokens(model: str, messages: list[dict[str, str]] | None = None, text: str | None = None) -> int:
    """The tokens of ``messages`` (as a chat request, with its per-message overhead) or of ``text``, counted
    with ``model``'s tokenizer where LiteLLM knows it, else with OpenAI's cl100k."""
    if messages is not None:
        return int(litellm().token_counter(model=model, messages=messages))
    return int(litellm().token_counter(model=model, text=text or "", count_response_tokens=True))


def model_response(model: str, content: str, prompt_tokens: int, completion_tokens: int) -> Any:
    """A completion as LiteLLM returns it: ``content`` as the reply, with its token counts."""
    module = litellm()
    return module.ModelResponse(
        model=model,
        choices=[{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        usage=module.Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                           total_tokens=prompt_tokens + completion_tokens),
    )
