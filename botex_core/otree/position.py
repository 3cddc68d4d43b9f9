"""Where oTree has a participant in its page sequence, read from oTree's own data.

A bot is finished only when oTree agrees: its participant's page index
(``participant._index_in_pages`` of oTree's wide export) has reached the last
page of the session's page sequence (``participant._max_page_index``). On its
last page a participant's index equals the last; submitting that page (when it
has a Next button) takes it one beyond.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from botex_core.errors import OtreeError
from botex_core.otree.client import OtreeClient


@dataclass(frozen=True)
class ParticipantPosition:
    """A participant's place in oTree's page sequence."""

    index: int
    last: int
    app: str = ""
    page: str = ""

    @property
    def done(self) -> bool:
        """Whether the participant is on or past its last page."""
        return self.index >= self.last

    def describe(self) -> str:
        """Where oTree has the participant, in words."""
        where = f"{self.app}/{self.page}" if self.page else "no page yet"
        return f"oTree has it on page {self.index} of {self.last} ({where})"


# Reads where oTree has one bot's participant.
PositionCheck = Callable[[], ParticipantPosition]


class PositionReader:
    """Reads participants' positions from oTree's wide export, one session at a time.

    A participant seen done stays done (oTree's page index only grows), so the
    bots of a session that end together cost oTree one export, not one each.
    """

    def __init__(self, rest_key: str | None, timeout: float = 30.0) -> None:
        self._rest_key = rest_key
        self._timeout = timeout
        self._done: dict[tuple[str, str, str], ParticipantPosition] = {}
        self._lock = threading.Lock()

    def check_for(self, participant_link: str, session_code: str, participant_code: str) -> PositionCheck:
        """How to read the position of the participant of ``participant_link`` (the server is the link's)."""
        parts = urlsplit(participant_link)
        server_url = f"{parts.scheme}://{parts.netloc}"
        return lambda: self.read(server_url, session_code, participant_code)

    def read(self, server_url: str, session_code: str, participant_code: str) -> ParticipantPosition:
        """The participant's position as oTree has it now.

        Raises:
            OtreeError: oTree refused the export (a REST key is missing or wrong), or its
                data has no such participant.
            OtreeUnreachableError: oTree does not answer.
        """
        key = (server_url, session_code, participant_code)
        with self._lock:
            if key in self._done:
                return self._done[key]
        client = OtreeClient(server_url, self._rest_key, self._timeout)
        known = session_code not in ("", "unknown")
        positions = positions_in_export(client.export_wide(session_code if known else None))
        with self._lock:
            self._done.update(((server_url, session_code, code), seen) for code, seen in positions.items() if seen.done)
        if participant_code not in positions:
            raise OtreeError(f"oTree's data at {server_url} has no participant {participant_code}")
        return positions[participant_code]


def positions_in_export(wide_csv: bytes) -> dict[str, ParticipantPosition]:
    """Every participant's position (by participant code) in oTree's wide CSV."""
    rows = csv.DictReader(io.StringIO(wide_csv.decode("utf-8-sig")))
    positions = {}
    for row in rows:
        code = row.get("participant.code", "")
        try:
            positions[code] = ParticipantPosition(
                int(row["participant._index_in_pages"] or 0), int(row["participant._max_page_index"] or 0),
                row.get("participant._current_app_name") or "", row.get("participant._current_page_name") or "",
            )
        except (KeyError, ValueError):
            raise OtreeError("oTree's wide export has no page index of its participants") from None
    return positions
