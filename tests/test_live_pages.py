"""Live pages and chat on the real example server, in real Chromium (the auto driver switches to it),
with the stand-in LLM choosing among each page's actions."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from botex_core.otree.client import OtreeClient
from botex_core.otree.position import positions_in_export
from botex_fleet import init_otree_session, read_actions_from_botex_db, read_participants_from_botex_db, run_bots_on_session
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM

pytestmark = pytest.mark.usefixtures("quick_bots")


def play(config: str, size: int, db: str, llm: FakeLLM, **config_fields: object) -> str:
    session = init_otree_session(config, size, botex_db=db, modified_session_config_fields=config_fields or None)
    run_bots_on_session(session["session_id"], botex_db=db, model="openai/stand-in", api_key="k",
                        api_base=llm.api_base, live_look_seconds=1.0)
    return session["session_id"]


def wide(otree_server: RunningOtree, session_id: str) -> list[dict[str, str]]:
    data = OtreeClient(otree_server.url, otree_server.rest_key).export_wide(session_id)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def assert_every_bot_acted_and_finished_past_its_last_page(otree_server: RunningOtree, db: str, session_id: str,
                                                             acting: set[str]) -> list[dict]:
    rows = read_participants_from_botex_db(session_id, db)
    assert [(row["status"], row["status_reason"]) for row in rows] == [("finished", None)] * len(rows)
    assert all(row["driver"].startswith("browser from page") for row in rows)
    positions = positions_in_export(OtreeClient(otree_server.url, otree_server.rest_key).export_wide(session_id))
    assert all(position.done for position in positions.values()), positions
    actions = read_actions_from_botex_db(db, session_id)
    for row in rows:
        assert {a["action"] for a in actions if a["participant_id"] == row["participant_id"]} & acting, actions
    return actions


def test_a_game_in_turns_ends_with_a_winner(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    session_id = play("race_game", 2, sqlite_db, fake_llm, race_target=8)
    actions = assert_every_bot_acted_and_finished_past_its_last_page(otree_server, sqlite_db, session_id, {"press"})
    [row, _] = wide(otree_server, session_id)
    assert row["race_game.1.group.winner"] in ("1", "2") and row["race_game.1.group.total"] == "8"
    presses = [a for a in actions if a["action"] == "press"]
    assert all(a["label"] in ("Add 1", "Add 2", "Add 3") and a["reason"] for a in presses)
    moves = sum(int(r["race_game.1.player.moves"]) for r in wide(otree_server, session_id))
    assert moves == len([a for a in presses if a["page_changed"]]) or moves <= len(presses)


def test_a_double_auction_has_trades(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    session_id = play("double_auction", 4, sqlite_db, fake_llm, market_seconds=20)
    actions = assert_every_bot_acted_and_finished_past_its_last_page(otree_server, sqlite_db, session_id, {"enter"})
    players = wide(otree_server, session_id)
    assert int(players[0]["double_auction.1.group.trades"]) >= 1
    offers = [a for a in actions if a["action"] == "enter"]
    assert all(a["label"] == "Make offer" and 0 <= int(a["value"]) <= 100 for a in offers)
    assert sum(int(p["double_auction.1.player.offers_made"]) for p in players) >= len({a["participant_id"] for a in offers})


def test_a_chat_holds_a_message_from_every_bot_before_the_claims(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM
) -> None:
    session_id = play("chat_claim", 2, sqlite_db, fake_llm)
    actions = assert_every_bot_acted_and_finished_past_its_last_page(otree_server, sqlite_db, session_id, {"chat"})
    chat = requests.get(f"{otree_server.url}/api/export_chat", headers={"otree-rest-key": otree_server.rest_key},
                        timeout=30).text
    messages = [row for row in csv.DictReader(io.StringIO(chat)) if row.get("session_code") == session_id]
    codes = {row["participant_id"] for row in read_participants_from_botex_db(session_id, sqlite_db)}
    assert {row["participant_code"] for row in messages} == codes, chat
    assert all(row["chat_claim.1.player.claim"] != "" for row in wide(otree_server, session_id))
    assert {a["action"] for a in actions} >= {"chat", "go_on"}
