"""The status table shows bots never queued, and bots being recovered, apart from the waiting ones."""

from __future__ import annotations

from botex_cli.status import progress_table
from botex_core.progress import SessionProgress


def progress(**by_status: int) -> SessionProgress:
    return SessionProgress(sum(by_status.values()), by_status, 0, 0, 0, 0, 0, 0.0)


def test_columns_of_bots_never_queued_show_only_when_there_are_some() -> None:
    plain = progress_table("session", {"s1": progress(queued=1, finished=1)})
    assert plain[0].split()[:8] == ["session", "bots", "queued", "running", "finished", "failed", "abandoned", "pages"]
    refused = progress_table("session", {"s1": progress(queued=1), "s2": progress(created=2)})
    assert refused[0].split()[2:4] == ["created", "queued"]
    assert refused[2].split()[:4] == ["s2", "2", "2", "0"]
