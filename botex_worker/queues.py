"""Which queue a bot goes to: one per LLM provider by default."""

from __future__ import annotations

_PREFIXES = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
             ("claude", "anthropic"), ("gemini", "gemini"))


def provider_of(model: str) -> str:
    """The LLM provider of a LiteLLM model string (``openai/gpt-4o`` -> ``openai``)."""
    if "/" in model:
        return model.split("/", 1)[0]
    for prefix, provider in _PREFIXES:
        if model.startswith(prefix):
            return provider
    return model


def queue_for(model: str, queue: str | None = None) -> str:
    """``queue`` if given, else the queue of the model's provider."""
    return queue or f"botex.{provider_of(model)}"
