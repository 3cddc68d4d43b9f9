"""oTree's participant links and page paths: built and read here only."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARTICIPANT_LINK = re.compile(r"/InitializeParticipant/([^/?#]+)")
_PAGE_PATH = re.compile(r"/p/(?P<code>[^/]+)/(?P<app>[^/]+)/(?P<page>[^/]+)/(?P<index>\d+)")


def participant_link(server_url: str, participant_code: str) -> str:
    """The link that starts a participant on the server at ``server_url``."""
    return f"{server_url.rstrip('/')}/InitializeParticipant/{participant_code}"


def participant_code(url: str) -> str | None:
    """The participant code in an oTree participant link, if it has one."""
    match = _PARTICIPANT_LINK.search(url)
    return match.group(1) if match else None


@dataclass(frozen=True)
class PagePath:
    """Where a participant page sits: app, page class and the participant's page index."""

    app: str
    page: str
    index: int


def page_path(url: str) -> PagePath | None:
    """The app, page and index of a participant page URL (``/p/<code>/<app>/<Page>/<index>``)."""
    match = _PAGE_PATH.search(url)
    return PagePath(match.group("app"), match.group("page"), int(match.group("index"))) if match else None
