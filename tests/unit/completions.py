"""A fake completion function for unit tests: answers from a script, records what it was asked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

Step = dict[str, Any] | str | Exception


def reply(content: Any, finish_reason: str = "stop", prompt_tokens: int = 11, completion_tokens: int = 7) -> SimpleNamespace:
    """A LiteLLM-shaped response with ``content`` (dumped to JSON unless it is text)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return SimpleNamespace(
        choices=[SimpleNamespace(message=SimpleNamespace(content=text), finish_reason=finish_reason)],
        usage=SimpleNamespace(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
    )


@dataclass
class ScriptedCompletion:
    """Plays ``script`` one step per call: an exception is raised, anything else returned as a reply.

    A step may also be a SimpleNamespace response made by :func:`reply`. The last step repeats.
    """

    script: list[Any]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **request: Any) -> Any:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        return step if isinstance(step, SimpleNamespace) else reply(step)

    @property
    def calls(self) -> int:
        """How often it was called."""
        return len(self.requests)
