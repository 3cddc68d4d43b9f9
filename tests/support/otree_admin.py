"""What an experimenter does in oTree's admin pages, done by a test: log in and move participants on."""

from __future__ import annotations

import requests
from lxml import html

CSRF_FIELD = "csrftoken"


class OtreeAdmin:
    """A logged-in admin of an oTree server in STUDY mode."""

    def __init__(self, server_url: str, password: str, username: str = "admin") -> None:
        self._url = server_url.rstrip("/")
        self._http = requests.Session()
        login = self._http.get(f"{self._url}/login", timeout=30)
        login.raise_for_status()
        response = self._http.post(f"{self._url}/login", timeout=30, data={
            "username": username, "password": password, CSRF_FIELD: self._csrf(login.text)})
        response.raise_for_status()
        if "/login" in response.url:
            raise RuntimeError("oTree's admin login failed")
        self._token = self._csrf(login.text)

    def advance_slowest(self, session_code: str) -> None:
        """Press "Advance slowest participants" on the session's monitor page."""
        response = self._http.post(f"{self._url}/AdvanceSession/{session_code}", timeout=30,
                                   data={"advancemode": "all", CSRF_FIELD: self._token})
        response.raise_for_status()

    @staticmethod
    def _csrf(page: str) -> str:
        [token] = html.document_fromstring(page).xpath(f"//input[@name='{CSRF_FIELD}']/@value")
        return token
