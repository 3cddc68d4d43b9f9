"""Replies made from the reply's JSON schema alone, for a dry run: no LLM is asked and nothing is spent.

The bots of a dry run send their real prompts; :class:`SchemaAnswerer` stands where
LiteLLM's ``completion`` would and answers each request with a valid reply: texts
written to two fifths of the length they may have (a page summary, a reason),
numbers in the middle of their range, the middle choice of a list, ``understood``
true and ``confused`` false, and on an interactive page the last thing offered
(going on where the page lets it). Prompt and reply tokens are counted with the
model's tokenizer, so that a plan can price them.
"""

from __future__ import annotations

import json
from typing import Any

from botex_core.llm.litellm_adapter import count_tokens, model_response

# What a reply text is written with, repeated to the length the reply gives it.
FILLER = "I read the page with care and answer as the instructions ask, for the reasons the page gives. "
SHARE_OF_ALLOWED_LENGTH = 0.4
UNBOUNDED_TEXT_CHARACTERS = 200


def answer_from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None, name: str = "") -> Any:
    """A value that satisfies ``schema`` (a JSON schema as pydantic writes it), chosen as the module says."""
    root = root or schema
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return answer_from_schema(target, root, name)
    if "anyOf" in schema:
        branches = [branch for branch in schema["anyOf"] if branch.get("type") != "null"] or schema["anyOf"]
        return answer_from_schema(branches[-1], root, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][len(schema["enum"]) // 2]
    kind = schema.get("type")
    if kind == "object":
        return {key: answer_from_schema(part, root, key) for key, part in schema.get("properties", {}).items()}
    if kind == "array":
        return [answer_from_schema(schema.get("items", {}), root, name)]
    if kind == "boolean":
        return name == "understood"
    if kind in ("integer", "number"):
        return _middle(schema, kind)
    return _text(schema)


def _middle(schema: dict[str, Any], kind: str) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        middle = (low + high) / 2
    else:
        middle = next((bound for bound in (low, high) if bound is not None), 0)
    return int(middle) if kind == "integer" else round(middle, 2)


def _text(schema: dict[str, Any]) -> str:
    allowed = schema.get("maxLength")
    length = round(allowed * SHARE_OF_ALLOWED_LENGTH) if allowed else UNBOUNDED_TEXT_CHARACTERS
    length = max(length, schema.get("minLength", 0))
    return (FILLER * (length // len(FILLER) + 1))[:length]


class SchemaAnswerer:
    """Stands where LiteLLM's ``completion`` would: every request is answered from its schema."""

    def __call__(self, *, model: str, messages: list[dict[str, str]], response_format: dict[str, Any],
                 **_: Any) -> Any:
        """The reply to one request, as LiteLLM returns it, with the tokens counted for ``model``."""
        schema = (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema") or {}
        content = json.dumps(answer_from_schema(schema))
        return model_response(model, content, count_tokens(model, messages=messages),
                              count_tokens(model, text=content))
