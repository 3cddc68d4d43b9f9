"""A small client of oTree's REST API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from botex_core.errors import OtreeAuthError, OtreeError, OtreeUnreachableError
from botex_core.settings import OtreeSettings, resolve

REST_KEY_HEADER = "otree-rest-key"


class OtreeClient:
    """Talks to one oTree server over HTTP; the REST key never leaves the header."""

    def __init__(self, server_url: str, rest_key: str | None, timeout: float = 30.0) -> None:
        self.server_url = server_url.rstrip("/")
        self._rest_key = rest_key
        self._timeout = timeout
        self._http = requests.Session()

    @classmethod
    def resolved(cls, server_url: str | None, rest_key: str | None, timeout: float = 30.0) -> OtreeClient:
        """A client of the server given, else of ``OTREE_SERVER_URL`` with ``OTREE_REST_KEY``."""
        otree = resolve(OtreeSettings, server_url=server_url, rest_key=rest_key)
        return cls(otree.server_url, otree.rest_key, timeout)

    @property
    def has_rest_key(self) -> bool:
        """Whether a REST key is configured for this client."""
        return bool(self._rest_key)

    def version(self) -> str:
        """oTree's version string."""
        return self._request("GET", "otree_version").json()["version"]

    def session_configs(self) -> list[dict[str, Any]]:
        """The session configurations the server offers."""
        return self._request("GET", "session_configs").json()

    def create_session(
        self,
        config_name: str,
        num_participants: int,
        room_name: str | None = None,
        modified_session_config_fields: dict[str, Any] | None = None,
    ) -> str:
        """Create a session and return its code."""
        payload: dict[str, Any] = {
            "session_config_name": config_name,
            "num_participants": num_participants,
        }
        if room_name is not None:
            payload["room_name"] = room_name
        if modified_session_config_fields:
            payload["modified_session_config_fields"] = modified_session_config_fields
        return self._request("POST", "sessions", payload).json()["code"]

    def session_participants(self, session_code: str) -> list[dict[str, Any]]:
        """The participants of a session in the order of their ``id_in_session``."""
        data = self._request("GET", f"sessions/{session_code}").json()
        return sorted(data["participants"], key=lambda p: p["id_in_session"])

    def export_wide(self, session_code: str | None = None) -> bytes:
        """The wide CSV of all apps, for one session or for all of them."""
        params = {"session_code": session_code} if session_code else None
        return self._request("GET", "export_wide", params=params).content

    def export_page_times(self) -> bytes:
        """oTree's CSV of every page each participant completed, with the time (of all sessions)."""
        return self._request("GET", "export_page_times").content

    def _request(
        self,
        method: str,
        endpoint: str,
        payload: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        url = f"{self.server_url}/api/{endpoint}"
        headers = {REST_KEY_HEADER: self._rest_key} if self._rest_key else {}
        try:
            response = self._http.request(
                method, url, json=payload, params=params, headers=headers, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise OtreeUnreachableError(
                f"oTree server at {self.server_url} is unreachable ({type(exc).__name__})"
            ) from None
        if response.ok:
            return response
        message = _first_line(response.text)
        if response.status_code == 403 and "rest" in message.lower():
            raise OtreeAuthError(f"oTree server at {self.server_url} rejected the REST key: {message}")
        raise OtreeError(
            f"oTree server at {self.server_url} answered {response.status_code} "
            f"to {method} /api/{endpoint}: {message}"
        )


def server_answers(url: str, timeout: float = 5.0) -> bool:
    """Whether the web server of ``url`` (its scheme, host and port) answers at all now: any HTTP
    response counts, an error page or a refused login too (a probe while it is thought to be down)."""
    parts = urlsplit(url)
    try:
        response = requests.get(f"{parts.scheme}://{parts.netloc}/", timeout=timeout, allow_redirects=False)
    except requests.RequestException:
        return False
    return response.status_code not in (502, 503, 504)


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:300] if stripped else "(empty response)"
