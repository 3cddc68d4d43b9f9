"""A task that fails outside its bot (say, its result cannot be stored while Redis restarts)."""

from __future__ import annotations

from pathlib import Path

from botex_core.store import BotStatus, ledger
from botex_core.store.ledger import NewParticipant
from botex_fleet import read_participants_from_botex_db
from botex_worker.tasks import run_bot_task


def test_a_task_that_fails_after_its_bot_finished_leaves_the_bot_finished(tmp_path: Path) -> None:
    db = str(tmp_path / "botex.sqlite3")
    ledger.add_participants([NewParticipant("game", "s1", code, False, f"http://o/InitializeParticipant/{code}", index)
                             for index, code in enumerate(["done", "crashed"], start=1)], db)
    ledger.end(db, "s1", "done", BotStatus.FINISHED)
    ledger.end(db, "s1", "crashed", BotStatus.RUNNING)
    for code in ("done", "crashed"):
        run_bot_task.on_failure(ConnectionError("Error 111 connecting to 127.0.0.1:6379"), f"task-{code}",
                                ({"settings": {"botex_db": db, "session_id": "s1", "participant_id": code}},), {}, None)
    statuses = {row["participant_id"]: (row["status"], row["status_reason"]) for row in read_participants_from_botex_db("s1", db)}
    assert statuses["done"] == ("finished", None)
    assert statuses["crashed"] == ("failed", "task failed: ConnectionError: Error 111 connecting to 127.0.0.1:6379")
