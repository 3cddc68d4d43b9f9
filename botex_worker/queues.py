"""Which queue a bot goes to: one per LLM provider by default, ``botex.<provider>``."""

from __future__ import annotations

from botex_core.errors import ConfigurationError

_PREFIXES = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
             ("claude", "anthropic"), ("gemini", "gemini"))
# The LiteLLM providers the fleet has a queue for; a worker started without
# -Q takes bots from all of them.
KNOWN_PROVIDERS = (
    "openai", "azure", "anthropic", "gemini", "vertex_ai", "bedrock", "mistral", "groq", "cohere",
    "deepseek", "xai", "together_ai", "fireworks_ai", "openrouter", "perplexity", "huggingface",
    "ollama", "ollama_chat", "hosted_vllm", "llamacpp",
)
DEFAULT_QUEUES = tuple(f"botex.{provider}" for provider in KNOWN_PROVIDERS)


def provider_of(model: str) -> str:
    """The LLM provider of a LiteLLM model string (``openai/gpt-4o`` -> ``openai``).

    Raises:
        ConfigurationError: The fleet knows no provider of that name.
    """
    provider = model.split("/", 1)[0] if "/" in model else next(
        (provider for prefix, provider in _PREFIXES if model.startswith(prefix)), model
    )
    if provider not in KNOWN_PROVIDERS:
        raise ConfigurationError(
            f"the fleet knows no LLM provider of model '{model}': write it as provider/model "
            f"with one of {', '.join(KNOWN_PROVIDERS)}, or give a queue"
        )
    return provider


def worker_queues(queue: str | None) -> list[str]:
    """The queues of a worker started without ``-Q``: every provider's, and ``BOTEX_QUEUE``'s when set."""
    return [*DEFAULT_QUEUES, *([queue] if queue and queue not in DEFAULT_QUEUES else [])]


def queue_for(model: str, queue: str | None = None) -> str:
    """``queue`` if given, else the queue of the model's provider."""
    return queue or f"botex.{provider_of(model)}"
