"""One LLM completion with a JSON schema, through LiteLLM, retried where that can help.

Rate limits, timeouts, connection and server errors back off exponentially
with jitter; errors that cannot succeed (bad key, unknown model, other client
errors) fail at once with the provider's reason. API keys go to LiteLLM only:
they are never part of what is recorded.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from botex_core.errors import BotexError
from botex_core.llm.credentials import merged, still_withheld, withheld
from botex_core.llm.litellm_adapter import cached_answer, complete, is_transient, refuses_json_schema
from botex_core.llm.replay_cache import CACHE_CONTROL, replay_answers
from botex_core.settings import DEFAULT_LLM_TIMEOUT_SECONDS, BotexSettings

logger = logging.getLogger(__name__)

LLAMACPP_MODEL = "llamacpp"
LLAMACPP_DEFAULT_URL = "http://localhost:8080"

# Endpoints (model, api_base) known to reject json_schema, shared by the bots of a process.
_json_object_endpoints: set[tuple[str, str | None]] = set()
_json_object_lock = threading.Lock()


class RateLimiter(Protocol):
    """Paces LLM calls: requests and tokens per minute, shared by many bots."""

    def acquire(self, tokens: int) -> Any:
        """Block until a request of about ``tokens`` tokens may go; return the grant."""

    def finish(self, grant: Any, tokens: int) -> None:
        """The request is over: count it from now on, with the tokens it really used."""

    def slow_down(self) -> None:
        """The provider answered 429: hold every request of the queue for a while."""


class Budget(Protocol):
    """A spend cap a client stays within: asked before each call, charged after it."""

    def check(self) -> None:
        """Raise :class:`~botex_core.errors.BudgetReached` when no further call may start."""

    def charge(self, exchange: Exchange) -> None:
        """Count what ``exchange`` cost."""


class LLMFailure(BotexError):
    """The LLM gave no usable completion and retrying cannot help (or retries ran out)."""


@dataclass
class Exchange:
    """One request to the LLM as recorded: never with a secret in it."""

    request: dict[str, Any]
    response: str | None = None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_seconds: float = 0.0
    # Answered from LiteLLM's cache (a replay): no tokens went to the provider.
    cached: bool = False


@dataclass
class RetryPolicy:
    """How patiently transient errors (rate limits, timeouts, server errors) are retried.

    They are retried with backoff for as long as they last, up to
    ``outage_seconds``; ``max_attempts`` caps the tries as well when set.
    """

    max_attempts: int | None = None
    base_delay: float = 1.0
    # While a provider is down (a 429 storm, 5xx), a bot asks again within this long of its return.
    max_delay: float = 10.0
    outage_seconds: float = 15 * 60
    # A call that has not been answered after this long is a timeout, retried like the others.
    call_timeout: float = DEFAULT_LLM_TIMEOUT_SECONDS

    @classmethod
    def of(cls, settings: BotexSettings, outage_seconds: float) -> RetryPolicy:
        """The policy of ``BOTEX_LLM_MAX_ATTEMPTS``, ``BOTEX_LLM_BACKOFF_SECONDS``,
        ``BOTEX_LLM_TIMEOUT_SECONDS`` and ``BOTEX_OUTAGE_SECONDS``."""
        return cls(settings.llm_max_attempts, settings.llm_backoff_seconds, outage_seconds=outage_seconds,
                   call_timeout=settings.llm_timeout_seconds)

    def gives_up(self, attempt: int, failing_for: float) -> bool:
        """Whether to stop after ``attempt`` failed tries, the first ``failing_for`` seconds ago."""
        out_of_tries = self.max_attempts is not None and attempt >= self.max_attempts
        return out_of_tries or failing_for >= self.outage_seconds

    def delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry number ``attempt`` (1-based)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass
class LLMClient:
    """Completions for one bot, with its model settings and its own throttle state."""

    model: str
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    throttle: bool = False
    completion_kwargs: dict[str, Any] = field(default_factory=dict)
    # Parameters that may hold credentials (see ``credentials``): sent, never recorded.
    private_parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    record: Callable[[Exchange], None] = lambda exchange: None
    limiter: RateLimiter | None = None
    budget: Budget | None = None
    # The call that answers a request: LiteLLM's ``completion`` unless another is given.
    completion: Callable[..., Any] | None = field(default=None, repr=False)
    # A replay: each request is looked up first among the stored answers served for this namespace
    # (``replay_cache.serving``); with ``cache_only`` a request they cannot answer fails instead of
    # reaching the provider.
    cache_namespace: str | None = None
    cache_only: bool = False

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], name: str) -> Exchange:
        """Ask for a reply to ``messages`` that follows ``schema``; return the exchange.

        Raises:
            LLMFailure: A permanent error, or transient errors until retries ran out.
        """
        attempt = 0
        first_failure = 0.0
        while True:
            attempt += 1
            request = self._request(messages, schema, name)
            exchange = Exchange(request=self._request(messages, schema, name, withheld(self._parameters)))
            if self.cache_namespace and self._answered_from_replay(request, exchange):
                return exchange
            if self.budget is not None:
                self.budget.check()
            estimate = _estimated_tokens(messages)
            grant = self.limiter.acquire(estimate) if self.limiter else None
            started = time.monotonic()
            try:
                response = (self.completion or complete)(**request, **self._secrets())
            except Exception as exc:  # noqa: BLE001 - LiteLLM maps providers' errors to many classes
                if self.limiter:
                    self.limiter.finish(grant, estimate)
                exchange.latency_seconds = time.monotonic() - started
                exchange.error = f"{type(exc).__name__}: {_short(str(exc))}"
                self.record(exchange)
                if self._switch_to_json_object(exc):
                    attempt -= 1
                    continue
                if self.limiter and getattr(exc, "status_code", None) == 429:
                    self.limiter.slow_down()
                if not is_transient(exc):
                    raise LLMFailure(f"LLM call failed and cannot succeed: {exchange.error}") from None
                first_failure = first_failure or started
                if self.retry.gives_up(attempt, time.monotonic() - first_failure):
                    raise LLMFailure(
                        f"LLM call failed {attempt} times in {time.monotonic() - first_failure:.0f} s, "
                        f"last: {exchange.error}"
                    ) from None
                if not self.throttle:
                    logger.info("LLM errors: throttling this bot from now on")
                    self.throttle = True
                pause = self.retry.delay(attempt)
                logger.warning("LLM call failed (%s); retrying in %.1f s", exchange.error, pause)
                time.sleep(pause)
                continue
            exchange.latency_seconds = time.monotonic() - started
            choice = response.choices[0]
            exchange.response = choice.message.content
            exchange.finish_reason = choice.finish_reason
            usage = getattr(response, "usage", None)
            exchange.prompt_tokens = getattr(usage, "prompt_tokens", None)
            exchange.completion_tokens = getattr(usage, "completion_tokens", None)
            if self.limiter:
                self.limiter.finish(grant, (exchange.prompt_tokens or 0) + (exchange.completion_tokens or 0) or estimate)
            if self.budget is not None:
                self.budget.charge(exchange)
            self.record(exchange)
            return exchange

    @property
    def _parameters(self) -> dict[str, Any]:
        """The completion parameters of every request: the bot's, with its private ones laid over them.

        Raises:
            LLMFailure: A parameter that may hold a credential was queued without its value, and
                nothing here gives it back.
        """
        parameters = merged(self.completion_kwargs, self.private_parameters)
        missing = still_withheld(parameters)
        if missing:
            raise LLMFailure(
                f"the bot was queued with {', '.join(missing)}, whose value stayed with the process that queued "
                "it: give it to this process in BOTEX_LLM_PARAMETERS"
            )
        return parameters

    def _request(
        self, messages: list[dict[str, str]], schema: dict[str, Any], name: str, parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The request to LiteLLM, with ``parameters`` (else the client's own completion parameters)."""
        parameters = self._parameters if parameters is None else parameters
        if self._endpoint in _json_object_endpoints:
            response_format: dict[str, Any] = {"type": "json_object", "schema": schema}
        else:
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            }
        model, api_base = self.model, self.api_base
        if model == LLAMACPP_MODEL:
            model = "openai/llamacpp"
            api_base = _openai_base(api_base or LLAMACPP_DEFAULT_URL)
        request = {
            "timeout": self.retry.call_timeout,
            **parameters,
            "model": model,
            "messages": messages,
            "response_format": response_format,
            "num_retries": 0,
        }
        if api_base:
            request["api_base"] = api_base
        if self.cache_namespace:
            # LiteLLM's own cache lookup in ``completion`` needs its proxy extras (BerriAI/litellm#42195):
            # the client looks the request up itself, and a miss goes to the provider uncached.
            request.update(caching=False, cache={"namespace": self.cache_namespace})
        return request

    def _answered_from_replay(self, request: dict[str, Any], exchange: Exchange) -> bool:
        """Fill ``exchange`` from the replay's stored answers and record it; False when the provider has to answer.

        Raises:
            LLMFailure: ``cache_only`` and no stored answer fits.
        """
        answers = replay_answers(self.cache_namespace)
        plain = {key: value for key, value in request.items() if key not in CACHE_CONTROL}
        found = cached_answer(answers, plain, self.cache_namespace) if answers is not None else None
        if found is None:
            if self.cache_only:
                exchange.error = "ReplayMiss: no stored exchange answers this request"
                self.record(exchange)
                raise LLMFailure(f"strict replay: {exchange.error}")
            return False
        exchange.response, exchange.finish_reason = found
        exchange.cached, exchange.prompt_tokens, exchange.completion_tokens = True, 0, 0
        self.record(exchange)
        return True

    def _secrets(self) -> dict[str, str]:
        if self.api_key:
            return {"api_key": self.api_key}
        if self.model == LLAMACPP_MODEL:
            return {"api_key": "no-key"}
        return {}

    @property
    def _endpoint(self) -> tuple[str, str | None]:
        return (self.model, self.api_base)

    def _switch_to_json_object(self, exc: Exception) -> bool:
        """Servers that reject ``json_schema`` get ``json_object`` with the schema instead."""
        if not refuses_json_schema(exc):
            return False
        with _json_object_lock:
            if self._endpoint in _json_object_endpoints:
                return True  # another bot found out meanwhile
            _json_object_endpoints.add(self._endpoint)
        logger.info("the LLM endpoint rejects json_schema; sending json_object with the schema")
        return True


def _estimated_tokens(messages: list[dict[str, str]]) -> int:
    return sum(len(m.get("content") or "") for m in messages) // 4 + 1


def _openai_base(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def _short(text: str, limit: int = 500) -> str:
    single_line = " ".join(text.split())
    return single_line if len(single_line) <= limit else single_line[: limit - 3] + "..."


def exchange_request_json(exchange: Exchange) -> str:
    """The recorded request as JSON text."""
    return json.dumps(exchange.request, default=str)
