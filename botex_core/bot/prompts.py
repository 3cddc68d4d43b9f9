"""The bot's prompts: the defaults from ``prompts.toml``, overridden by ``user_prompts``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

from botex_core.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@lru_cache(maxsize=1)
def default_prompts() -> dict[str, str]:
    """The default prompt of each key."""
    text = resources.files("botex_core.bot").joinpath("prompts.toml").read_text()
    return {key: value.strip() for key, value in tomllib.loads(text).items()}


def build_prompts(user_prompts: Mapping[str, str] | None = None) -> dict[str, str]:
    """The default prompts with ``user_prompts`` applied.

    Raises:
        ConfigurationError: ``user_prompts`` has a key the bot does not know.
    """
    prompts = dict(default_prompts())
    unknown = sorted(set(user_prompts or {}) - set(prompts))
    if unknown:
        raise ConfigurationError(
            f"unknown prompt key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(prompts))}"
        )
    prompts.update(user_prompts or {})
    return prompts
