"""What LLM tokens cost, from LiteLLM's price table."""

from __future__ import annotations

from botex_core.settings import load_litellm


def estimated_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """US dollars for the tokens at ``model``'s list price; None when LiteLLM has no price for it.

    Local models (``llamacpp``) cost nothing.
    """
    if model == "llamacpp":
        return 0.0
    try:
        prompt_cost, completion_cost = load_litellm().cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # LiteLLM raises several kinds for models it has no price for
        return None
    return prompt_cost + completion_cost
