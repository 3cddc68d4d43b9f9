"""Which completion parameters may carry credentials, told by where a value sits, not only by its name.

A value of the completion parameters (the keyword arguments that go to
``litellm.completion``) may be a credential when it is:

- a header (anything under ``extra_headers``, whatever the header's name:
  gateways such as Helicone or Azure API Management take keys in headers of
  their own naming);
- text anywhere inside a parameter whose value is a table (``extra_body``,
  ``metadata``, ...), where a provider or a gateway may read a key;
- the value of a parameter, at any depth, whose name speaks of a key, a
  secret, a token, a password, a credential or auth.

Such a value never reaches what is queued, stored, logged or shown: it is
replaced by :data:`WITHHELD` there, and the real value stays in the process
that was given it (or in the workers' own ``BOTEX_LLM_PARAMETERS``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

WITHHELD = "[withheld]"
HEADERS = "extra_headers"
_CREDENTIAL_WORDS = frozenset({"key", "apikey", "secret", "token", "password", "passwd", "auth", "authorization",
                               "credential", "credentials", "bearer", "cookie"})
# The words of a name: "X-Api-Key", "api_key", "apiKey" and "Helicone-Auth" all split at their seams.
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_credential_name(name: str) -> bool:
    """Whether a setting of this name may hold a credential (``api_key``, ``Helicone-Auth``, ``X-Api-Key``,
    ``access_token``, ...); token counts such as ``max_tokens`` do not, nor does ``author``."""
    return any(word.lower() in _CREDENTIAL_WORDS for word in _WORDS.findall(name))


def credential_paths(parameters: dict[str, Any]) -> list[str]:
    """The dotted names of every value in ``parameters`` that may be a credential."""
    return [".".join(path) for path, _ in _credentials(parameters)]


def withheld(parameters: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``parameters`` with every value that may be a credential replaced by :data:`WITHHELD`."""
    copied = copy.deepcopy(parameters)
    for path, _ in _credentials(parameters):
        _set(copied, path, WITHHELD)
    return copied


def credentials_only(parameters: dict[str, Any]) -> dict[str, Any]:
    """Only the values of ``parameters`` that may be credentials, in their places."""
    found: dict[str, Any] = {}
    for path, value in _credentials(parameters):
        _set(found, path, value)
    return found


def still_withheld(parameters: dict[str, Any]) -> list[str]:
    """The dotted names of values that are still :data:`WITHHELD` placeholders (nothing gave them back)."""
    return [".".join(path) for path, value in _credentials(parameters) if value == WITHHELD]


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overlay`` laid over it, tables merged key by key (``overlay`` wins)."""
    result = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def _credentials(parameters: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for key, value in parameters.items():
        key = str(key)
        if key == HEADERS and isinstance(value, dict):
            found += [((key, str(header)), header_value) for header, header_value in value.items()]
        elif is_credential_name(key):
            found.append(((key,), value))
        elif isinstance(value, dict):
            found += _inside_table(value, (key,))
    return found


def _inside_table(table: dict[str, Any], within: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for key, value in table.items():
        path = (*within, str(key))
        if isinstance(value, dict):
            found += _inside_table(value, path)
        elif isinstance(value, str) or is_credential_name(str(key)) or (
                isinstance(value, list) and any(isinstance(item, (str, dict)) for item in value)):
            found.append((path, value))
    return found


def _set(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
