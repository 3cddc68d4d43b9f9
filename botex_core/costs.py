"""What LLM tokens cost, from LiteLLM's price table."""

from __future__ import annotations

from botex_core.llm.litellm_adapter import token_cost


def estimated_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """US dollars for the tokens at ``model``'s list price; None when LiteLLM has no price for it.

    Local models (``llamacpp``) cost nothing.
    """
    if model == "llamacpp":
        return 0.0
    return token_cost(model, prompt_tokens, completion_tokens)
