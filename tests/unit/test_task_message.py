"""The task message: one versioned model; old shapes are read, unknown versions are never dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from botex_core.bot.job import BotSettings, Waiting
from botex_core.store import dispose_engines, ledger
from botex_core.store.ledger import NewParticipant, QueuedBot
from botex_fleet import read_participants_from_botex_db
from botex_worker import tasks
from botex_worker.message import MESSAGE_VERSION, BotMessage, UnreadableMessage

LINK = "http://otree/InitializeParticipant/p1"
SETTINGS = BotSettings(url=LINK, session_id="s1", participant_id="p1", model="openai/m", api_key="sk-secret",
                       private_parameters={"extra_headers": {"X-Gateway": "g-secret"}})
# What a task argument looked like before messages had versions.
UNVERSIONED = {"settings": {"url": LINK, "session_id": "s1", "participant_id": "p1", "botex_db": None,
                            "model": "openai/m", "api_base": None, "throttle": False, "full_conv_history": False,
                            "user_prompts": None, "completion_kwargs": {}, "wait_timeout": 3600.0, "driver": "auto",
                            "persona": None, "replay_of": None, "strict_replay": False},
               "queue": "botex.openai", "api_key_ref": None, "waiting": {"url": LINK, "since": 5.0},
               "infrastructure_failures": 1, "outage_since": 3.0}


def test_a_message_carries_no_secret_and_reads_back_as_it_was_written() -> None:
    message = BotMessage.of(SETTINGS, "botex.openai", on_fleet=True, waiting=Waiting(LINK, 7.0))
    argument = message.task_argument()
    assert argument["version"] == MESSAGE_VERSION
    assert "secret" not in json.dumps(argument) and "secret" not in message.stored()
    again = BotMessage.read(json.loads(json.dumps(argument)))
    assert again == message and again.waiting == Waiting(LINK, 7.0) and again.settings.api_key is None


def test_a_message_queued_before_versions_is_read() -> None:
    message = BotMessage.read(UNVERSIONED)
    assert message.version == MESSAGE_VERSION and message.settings.participant_id == "p1"
    assert message.waiting == Waiting(LINK, 5.0) and message.infrastructure_failures == 1


@pytest.mark.parametrize(("raw", "problem"), [
    ({**UNVERSIONED, "version": 99}, "a message of version 99; this botex-fleet reads version 1"),
    ({**UNVERSIONED, "settings": {**UNVERSIONED["settings"], "wait_seconds": 3}},
     "a malformed message: settings.wait_seconds: Unexpected keyword argument"),
    ("[1, 2]", "not a bot's message"),
])
def test_what_cannot_be_read_says_why(raw: Any, problem: str) -> None:
    with pytest.raises(UnreadableMessage, match=problem.replace("(", r"\(").replace(")", r"\)")):
        BotMessage.read(raw)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    db = str(tmp_path / "botex.sqlite3")
    ledger.add_participants([NewParticipant("game", "s1", "p1", False, LINK, 1)], db)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks, "send", sent.extend)
    yield db, sent
    dispose_engines()


def test_a_message_of_an_unknown_version_is_queued_again_from_the_store(store) -> None:
    db, sent = store
    stored = BotMessage.of(SETTINGS, "botex.openai", on_fleet=True)
    ledger.mark_queued(db, "s1", {"p1": QueuedBot(stored.stored(), "openai/m")})
    newer = {**stored.task_argument(), "version": 2, "settings": {**stored.task_argument()["settings"], "botex_db": db}}
    assert tasks.queue_again_or_end(newer, db, "a message of version 2")["status"] == "requeued"
    assert [BotMessage.read(argument) for argument in sent] == [stored]


def test_a_bot_whose_messages_cannot_be_read_ends_with_the_reason(store) -> None:
    db, sent = store
    newer = {"version": 2, "settings": {"session_id": "s1", "participant_id": "p1", "botex_db": db}}
    ledger.mark_queued(db, "s1", {"p1": QueuedBot(json.dumps(newer), "openai/m")})
    result = tasks.queue_again_or_end(newer, db, "a message of version 2; this botex-fleet reads version 1")
    [row] = read_participants_from_botex_db("s1", db)
    assert sent == [] and result["status"] == row["status"] == "failed"
    assert row["status_reason"].startswith("its task message could not be read (a message of version 2")
