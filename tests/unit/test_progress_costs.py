"""The progress line prices a bot's tokens by the model it was queued with, from its first call on."""

from __future__ import annotations

import json
from pathlib import Path

from botex_core.progress import session_progress
from botex_core.store import LLMExchange, ledger, session_scope
from botex_core.store.ledger import NewParticipant, QueuedBot


def test_the_cost_is_known_before_the_bot_saved_its_conversation(tmp_path: Path) -> None:
    db = str(tmp_path / "botex.sqlite3")
    ledger.add_participants([NewParticipant("game", "s1", "p1", False, "http://o/InitializeParticipant/p1", 1)], db)
    ledger.mark_queued(db, "s1", {"p1": QueuedBot(json.dumps({"settings": {"model": "llamacpp"}}), "llamacpp")})
    with session_scope(db) as session:
        session.add(LLMExchange(session_id="s1", participant_id="p1", sequence=1, phase="start", request="{}",
                                response="{}", prompt_tokens=193, completion_tokens=24))
    progress = session_progress("s1", db)
    assert (progress.llm_calls, progress.prompt_tokens, progress.cost_usd) == (1, 193, 0.0)
