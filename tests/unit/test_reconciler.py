"""The reconciler's decisions with a fake Redis and a SQLite store: which stranded bots go back on a queue."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from botex_core.bot.job import BotSettings, Waiting
from botex_core.store import BotStatus, dispose_engines, ledger
from botex_core.store.ledger import NewParticipant, QueuedBot
from botex_fleet import read_participants_from_botex_db
from botex_worker import reconciler
from botex_worker.kombu_adapter import UNACKED, UNACKED_INDEX, message_name
from botex_worker.message import BotMessage

INTERVAL = 2.0
CODES = ("dead", "lost", "waiting", "held", "local")


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Five queued bots of session s1 (the last queued for this process, not the fleet), a fake Redis,
    and what the reconciler sends."""
    db = str(tmp_path / "botex.sqlite3")
    links = {code: f"http://otree/InitializeParticipant/{code}" for code in CODES}
    ledger.add_participants([NewParticipant("game", "s1", code, False, link, n)
                             for n, (code, link) in enumerate(links.items(), start=1)], db)
    messages = {code: BotMessage.of(BotSettings(url=link, session_id="s1", participant_id=code), "botex.openai",
                                    on_fleet=code != "local", waiting=Waiting(link, 1.0)) for code, link in links.items()}
    ledger.mark_queued(db, "s1", {code: QueuedBot(message.stored(), "openai/m") for code, message in messages.items()})
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(reconciler, "send", sent.extend)
    monkeypatch.setattr(reconciler, "_tasks_known_to_live_workers", lambda task_ids: set())
    yield db, fakeredis.FakeRedis(), sent
    dispose_engines()


def broker_message(code: str) -> str:
    return json.dumps({"headers": {"shadow": message_name("s1", code), "id": f"task-{code}"}})


def test_stranded_fleet_bots_go_back_and_the_others_are_left_alone(fleet) -> None:
    db, client, sent = fleet
    assert ledger.claim_lease(db, "s1", "dead", "gone/run", seconds=-1)  # a worker died holding it
    ledger.mark_running(db, "s1", "dead")
    client.lpush("botex.openai", broker_message("waiting"))  # its message waits in the queue
    client.hset(UNACKED, "tag-held", json.dumps([json.loads(broker_message("held")), "", "botex.openai"]))
    client.zadd(UNACKED_INDEX, {"tag-held": time.time()})  # a worker took it a moment ago

    assert reconciler.reconcile(db, client, INTERVAL) == 1
    assert [BotMessage.read(argument).name for argument in sent] == ["dead"]
    assert all(BotMessage.read(argument).waiting is None for argument in sent)
    # "lost" has no message anywhere: suspected once, queued again in the next round
    assert reconciler.reconcile(db, client, INTERVAL) == 1
    assert [BotMessage.read(argument).name for argument in sent] == ["dead", "lost"]
    rows = {row["participant_id"]: row for row in read_participants_from_botex_db("s1", db)}
    assert rows["dead"]["status_reason"] == "recovered: its run stopped (lease expired)"
    assert rows["lost"]["status_reason"] == "recovered: its message was lost"
    assert {rows[code]["status"] for code in ("waiting", "held", "local")} == {BotStatus.QUEUED.value}


def test_a_bot_that_found_its_message_again_is_not_queued_twice(fleet) -> None:
    db, client, sent = fleet
    for code in ("waiting", "held", "dead", "local"):
        client.lpush("botex.openai", broker_message(code))
    reconciler.reconcile(db, client, INTERVAL)  # "lost" is suspected
    client.lpush("botex.openai", broker_message("lost"))  # its retry arrived meanwhile
    assert reconciler.reconcile(db, client, INTERVAL) == 0 and sent == []


def test_a_message_this_worker_cannot_read_is_left_to_another(fleet, caplog: pytest.LogCaptureFixture) -> None:
    db, client, sent = fleet
    ledger.mark_queued(db, "s1", {"lost": QueuedBot(json.dumps({"version": 2}), "openai/m")})
    for code in ("waiting", "held", "dead"):
        client.lpush("botex.openai", broker_message(code))
    reconciler.reconcile(db, client, INTERVAL)
    assert reconciler.reconcile(db, client, INTERVAL) == 0 and sent == []
    assert "leaves bot lost to another worker: a message of version 2" in caplog.text
