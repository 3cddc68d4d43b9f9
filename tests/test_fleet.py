"""The fleet: real Redis, the PostgreSQL store, two worker processes, the stand-in LLM."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, text

from botex_core.otree.client import OtreeClient
from botex_core.otree.position import positions_in_export
from botex_fleet import (
    init_otree_session,
    read_actions_from_botex_db,
    read_participants_from_botex_db,
    read_responses_from_botex_db,
)
from botex_core.store import Participant, get_engine, session_scope
from tests.conftest import REPO, RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.waiting import wait_for
from tests.support.fleet import cli, submitted_sessions
from tests.support.workers import BOTEX_CLI, QUEUE, Workers
from tests.support.services import free_port, wait_for_port

FLOWER_LOGIN = "researcher:flower-" + uuid.uuid4().hex[:8]


@pytest.fixture
def workers(fleet_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(fleet_env, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def flower(fleet_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Flower for the fleet behind basic auth; yields its URL."""
    port = free_port()
    env = {**fleet_env, "FLOWER_BASIC_AUTH": FLOWER_LOGIN}
    with open(tmp_path / "flower.log", "w") as log:
        process = subprocess.Popen([BOTEX_CLI, "flower", "--port", str(port)], env=env, cwd=REPO,
                                   start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def test_three_sessions_of_four_bots_on_two_workers(
    fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM, flower: str
) -> None:
    workers.start("one")
    workers.start("two")
    result = cli(fleet_env, "submit", "-s", "widgets_pair", "-p", "4", "--sessions", "3",
                 "--model", "openai/stand-in", "--api-base", fake_llm.api_base, "--wait", timeout=240)
    assert result.returncode == 0, result.stderr + cli(fleet_env, "status").stdout + workers.logs()
    sessions = submitted_sessions(result)
    assert len(sessions) == 3
    status = json.loads(cli(fleet_env, "status", "--json").stdout)
    assert set(status) == set(sessions)
    for progress in status.values():
        assert progress["bots"] == 4 and progress["by_status"] == {"finished": 4}
        assert progress["answers"] == 4 * 10 and progress["pages"] == 4 * 4 and progress["llm_calls"] >= 4 * 6
    table = cli(fleet_env, "status", sessions[0]).stdout
    assert sessions[0] in table and "finished" in table
    with session_scope(fleet_env["BOTEX_DB"]) as store:
        owners = set(store.scalars(select(Participant.status_reason)))
    assert owners == {None}
    assert_flower_shows_the_fleet(flower, sessions, fleet_env)


def assert_flower_shows_the_fleet(flower: str, sessions: list[str], fleet_env: dict[str, str]) -> None:
    """Flower lists every bot task by session and participant, both workers, and no secret."""
    login = tuple(FLOWER_LOGIN.split(":"))
    assert requests.get(f"{flower}/api/tasks", timeout=10).status_code == 401
    tasks = requests.get(f"{flower}/api/tasks", auth=login, timeout=10)
    assert tasks.ok
    bots = {(task["name"], task["state"]) for task in tasks.json().values()}
    with session_scope(fleet_env["BOTEX_DB"]) as store:
        expected = {(f"bot {row.session_id}/{row.participant_id}", "SUCCESS")
                    for row in store.scalars(select(Participant).where(Participant.session_id.in_(sessions)))}
    assert len(expected) == 12 and bots == expected
    workers = requests.get(f"{flower}/api/workers", params={"refresh": "1"}, auth=login, timeout=30)
    assert {"one@test", "two@test"} <= set(workers.json())
    shown = tasks.text + workers.text
    for secret in (fleet_env["OPENAI_API_KEY"], fleet_env["OTREE_REST_KEY"], FLOWER_LOGIN.split(":")[1]):
        assert secret not in shown


def test_a_killed_worker_hands_its_bot_to_another(fleet_env: dict[str, str], workers: Workers) -> None:
    slow_llm = FakeLLM(latency=0.7).start()
    try:
        workers.start("doomed", concurrency=2)
        session = init_otree_session("widgets_pair", 2, botex_db=fleet_env["BOTEX_DB"],
                                     otree_server_url=fleet_env["OTREE_SERVER_URL"], otree_rest_key=fleet_env["OTREE_REST_KEY"])

        result = cli(fleet_env, "retry", session["session_id"], "--model", "openai/stand-in", "--api-base", slow_llm.api_base)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: len(read_responses_from_botex_db(fleet_env["BOTEX_DB"], session["session_id"])) >= 9,
                 120, "the bots did not answer the questionnaire")
        workers.kill("doomed")
        workers.start("rescuer", concurrency=2)
        wait_for(lambda: all(p["status"] == "finished" for p in read_participants_from_botex_db(session["session_id"], fleet_env["BOTEX_DB"])),
                 180, "the bots were not resumed to the end")
    finally:
        slow_llm.stop()
    rows = read_participants_from_botex_db(session["session_id"], fleet_env["BOTEX_DB"])
    assert all(row["attempts"] == 2 for row in rows)
    with get_engine(fleet_env["BOTEX_DB"]).connect() as connection:
        duplicates = connection.execute(text(
            "SELECT count(*) FROM (SELECT participant_id, question_id, round FROM answers "
            "GROUP BY participant_id, question_id, round HAVING count(*) > 1) d"
        )).scalar()
    assert duplicates == 0
    assert len(read_responses_from_botex_db(fleet_env["BOTEX_DB"], session["session_id"])) == 20


def test_a_bot_whose_worker_died_in_a_live_page_comes_back_to_it_and_the_game_ends(
    fleet_env: dict[str, str], workers: Workers
) -> None:
    slow_llm = FakeLLM(latency=0.5).start()
    db = fleet_env["BOTEX_DB"]
    try:
        workers.start("doomed", concurrency=2)
        session = init_otree_session("race_game", 2, botex_db=db, otree_server_url=fleet_env["OTREE_SERVER_URL"],
                                     otree_rest_key=fleet_env["OTREE_REST_KEY"])
        code = session["session_id"]
        result = cli(fleet_env, "retry", code, "--model", "openai/stand-in", "--api-base", slow_llm.api_base)
        assert result.returncode == 0, result.stderr
        def both_pressed() -> bool:
            return len({a["participant_id"] for a in read_actions_from_botex_db(db, code) if a["action"] == "press"}) == 2

        wait_for(both_pressed, 120, "the bots did not both act in the race before their worker died")
        workers.kill("doomed")
        workers.start("rescuer", concurrency=2)
        wait_for(lambda: all(p["status"] == "finished" for p in read_participants_from_botex_db(code, db)),
                 180, "the bots were not resumed to the end of the race")
    finally:
        slow_llm.stop()
    rows = read_participants_from_botex_db(code, db)
    assert [(row["attempts"], row["status_reason"]) for row in rows] == [(2, None)] * 2
    pages = {(a["participant_id"], a["page"]) for a in read_actions_from_botex_db(db, code) if a["action"] == "press"}
    assert {page for _, page in pages} == {"Race"}
    positions = positions_in_export(OtreeClient(fleet_env["OTREE_SERVER_URL"], fleet_env["OTREE_REST_KEY"]).export_wide(code))
    assert all(position.done for position in positions.values())


def test_a_spend_cap_stops_the_fleet_and_a_higher_one_lets_it_finish(
    fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM
) -> None:
    cap = 6000  # a bot of widgets_pair uses about 4,000 tokens of the stand-in
    for name in ("one", "two"):
        workers.start(name, concurrency=2)
    result = cli(fleet_env, "submit", "-s", "widgets_pair", "-p", "2", "--sessions", "2", "--model", "openai/stand-in",
                 "--api-base", fake_llm.api_base, "--max-tokens", str(cap), "--wait", timeout=240)
    assert result.returncode == 1, result.stderr  # not every bot finished
    codes = submitted_sessions(result)
    # When the store's account reached the cap: no request may arrive after it but those of bots
    # that had passed the check already, at most one per running bot (4).
    with get_engine(fleet_env["BOTEX_DB"]).connect() as connection:
        charged = connection.execute(text(
            "SELECT prompt_tokens + completion_tokens, created_at FROM llm_exchanges "
            "WHERE prompt_tokens IS NOT NULL ORDER BY created_at, id")).all()
    totals = itertools.accumulate(tokens for tokens, _ in charged)
    created = next(created for total, (_, created) in zip(totals, charged) if total >= cap)
    reached = created if isinstance(created, datetime) else datetime.fromisoformat(str(created))
    reached_epoch = reached.replace(tzinfo=timezone.utc).timestamp()
    after = sum(arrival > reached_epoch for arrival in fake_llm.arrivals)
    assert after <= 4, f"{after} requests arrived after the cap was reached (at most one per running bot)"
    rows = [row for code in codes for row in read_participants_from_botex_db(code, fleet_env["BOTEX_DB"])]
    stopped = [row for row in rows if row["status"] == "abandoned"]
    assert stopped and all(row["status_reason"].startswith("budget reached: spent ") for row in stopped)
    assert {row["status"] for row in rows} <= {"finished", "abandoned"}
    answered_before = {code: len(read_responses_from_botex_db(fleet_env["BOTEX_DB"], code)) for code in codes}
    status = cli(fleet_env, "status", codes[0]).stdout
    assert f"of {cap} tokens" in status
    for code in codes:
        again = cli(fleet_env, "retry", code, "--max-tokens", "100000")
        assert again.returncode == 0, again.stderr
    wait_for(lambda: all(row["status"] == "finished" for code in codes
                         for row in read_participants_from_botex_db(code, fleet_env["BOTEX_DB"])),
             240, "the bots did not carry on under the higher cap")
    for code in codes:
        assert len(read_responses_from_botex_db(fleet_env["BOTEX_DB"], code)) == 2 * 10 >= answered_before[code]


def test_a_duplicate_delivery_does_not_run_a_bot_twice(fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM) -> None:
    workers.start("one", concurrency=4)
    session = init_otree_session("widgets_pair", 2, botex_db=fleet_env["BOTEX_DB"],
                                 otree_server_url=fleet_env["OTREE_SERVER_URL"], otree_rest_key=fleet_env["OTREE_REST_KEY"])
    for _ in range(2):  # every bot delivered twice
        result = cli(fleet_env, "retry", session["session_id"], "--model", "openai/stand-in", "--api-base", fake_llm.api_base)
        assert result.returncode == 0, result.stderr
    wait_for(lambda: all(p["status"] == "finished" for p in read_participants_from_botex_db(session["session_id"], fleet_env["BOTEX_DB"])),
             120, "the bots did not finish")
    time.sleep(6)  # the duplicates look again after the lease time and find the bots ended
    rows = read_participants_from_botex_db(session["session_id"], fleet_env["BOTEX_DB"])
    assert [row["attempts"] for row in rows] == [1, 1]
    assert len(read_responses_from_botex_db(fleet_env["BOTEX_DB"], session["session_id"])) == 20
    starts = [r for r in fake_llm.requests if "You are about to start the study" in r["messages"][-1]["content"]]
    assert len(starts) == 2


@pytest.mark.parametrize("driver", ["browser", "http"])
def test_waiting_bots_give_their_slots_to_the_bots_they_wait_for(
    fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM, driver: str
) -> None:
    """A group of three on two slots: the first two wait for the third, which only runs on a slot they left."""
    workers.start("small", concurrency=2, BOTEX_GIVE_BACK_SLOT_SECONDS="3")
    result = cli(fleet_env, "submit", "-s", "guess_two_thirds", "-p", "3", "--driver", driver,
                 "--model", "openai/stand-in", "--api-base", fake_llm.api_base, "--wait", timeout=240)
    assert result.returncode == 0, result.stderr + cli(fleet_env, "status").stdout + workers.logs()
    [session_id] = submitted_sessions(result)
    rows = read_participants_from_botex_db(session_id, fleet_env["BOTEX_DB"])
    assert [(row["status"], row["attempts"]) for row in rows] == [("finished", 1)] * 3
    assert "gave its slot back while waiting on" in workers.logs()
    # a bot that comes back is still named after itself (Flower and the reconciler read the name)
    assert f"Task bot {session_id}/" in workers.logs() and "Task botex.run_bot[" not in workers.logs()
    assert len(read_responses_from_botex_db(fleet_env["BOTEX_DB"], session_id)) == 3 * 3  # a guess per round
    starts = [r for r in fake_llm.requests if "You are about to start the study" in r["messages"][-1]["content"]]
    assert len(starts) == 3  # a bot that comes back goes on where it stood


def test_a_bot_that_gives_its_slot_back_is_still_abandoned_in_time(
    fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM
) -> None:
    workers.start("one", concurrency=2, BOTEX_GIVE_BACK_SLOT_SECONDS="1")
    env = {**fleet_env, "BOTEX_WAIT_TIMEOUT": "8"}
    result = cli(env, "submit", "-s", "guess_two_thirds", "-p", "3", "-n", "2",
                 "--model", "openai/stand-in", "--api-base", fake_llm.api_base)
    assert result.returncode == 0, result.stderr
    [session_id] = submitted_sessions(result)
    bot = lambda: next(p for p in read_participants_from_botex_db(session_id, env["BOTEX_DB"]) if not p["is_human"])  # noqa: E731
    wait_for(lambda: bot()["status"] == "abandoned", 60, "the bot waiting for two humans was not abandoned")
    assert bot()["status_reason"] == "waited more than 8 s on the wait page ResultsWaitPage"
    assert bot()["attempts"] == 1
    assert workers.logs().count("gave its slot back while waiting on") >= 2


def test_submit_without_a_broker_is_a_clear_error(otree_server: RunningOtree) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BOTEX_BROKER_URL"}
    result = cli(env, "submit", "-s", "widgets_pair", "-p", "2")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "Error: BOTEX_BROKER_URL is not set: there is no fleet to submit to (use 'botex-cli run')"


RATE_LIMIT = 30  # requests per minute
WINDOW = 60.0


def test_three_workers_hold_one_rate_limit(fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM) -> None:
    for name in ("one", "two", "three"):
        workers.start(name, concurrency=2, BOTEX_RATE_LIMITS=f"{QUEUE}={RATE_LIMIT}rpm")
    result = cli(fleet_env, "submit", "-s", "widgets_pair", "-p", "2", "--sessions", "6",
                 "--model", "openai/stand-in", "--api-base", fake_llm.api_base, "--wait", timeout=600)
    assert result.returncode == 0, result.stderr + workers.logs()
    arrivals = sorted(fake_llm.arrivals)
    assert len(arrivals) > 2 * RATE_LIMIT, "too few LLM calls to fill two windows"
    busiest = max(sum(1 for t in arrivals if start <= t < start + WINDOW) for start in arrivals)
    assert busiest <= RATE_LIMIT, f"{busiest} requests in one {WINDOW:.0f}-s window"
    first_two_minutes = sum(1 for t in arrivals if t < arrivals[0] + 2 * WINDOW)
    assert first_two_minutes >= 0.9 * 2 * RATE_LIMIT, f"{first_two_minutes} requests in the first two minutes"
    print(f"rate limit {RATE_LIMIT}/min: busiest window {busiest}, first two minutes {first_two_minutes} "
          f"({first_two_minutes / (2 * RATE_LIMIT):.0%} of the limit), {len(arrivals)} calls")


RUN_BOTS = """
import sys
from botex_fleet import init_otree_session, run_bots_on_session
session = init_otree_session("widgets_pair", 2)
run_bots_on_session(session["session_id"], model="openai/stand-in", api_base=sys.argv[1])
print(session["session_id"])
"""


def test_a_worker_with_default_queues_takes_what_submit_and_the_api_send(
    fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM
) -> None:
    """Also with BOTEX_QUEUE set for all: submit, run_bots_on_session and the worker's default queues agree."""
    own_queue = {**fleet_env, "BOTEX_QUEUE": "botex.test-" + uuid.uuid4().hex[:6]}
    workers.start("plain", concurrency=2, queues=None, BOTEX_QUEUE=own_queue["BOTEX_QUEUE"])
    workers.wait_ready("plain")
    for env in (fleet_env, own_queue):
        result = cli(env, "submit", "-s", "widgets_pair", "-p", "2",
                     "--model", "openai/stand-in", "--api-base", fake_llm.api_base, "--wait", timeout=180)
        assert result.returncode == 0, result.stderr + workers.logs()
        assert "no live worker" not in result.stderr
    from_python = subprocess.run([sys.executable, "-c", RUN_BOTS, fake_llm.api_base], env=own_queue, cwd=REPO,
                                 capture_output=True, text=True, timeout=180)
    assert from_python.returncode == 0, from_python.stderr + workers.logs()
    session_id = from_python.stdout.split()[-1]
    with session_scope(fleet_env["BOTEX_DB"]) as store:
        rows = list(store.scalars(select(Participant).where(Participant.session_id == session_id)))
    assert [row.status for row in rows] == ["finished", "finished"]
    assert {json.loads(row.bot_settings)["queue"] for row in rows} == {own_queue["BOTEX_QUEUE"]}


def test_submit_warns_when_no_worker_takes_its_queue(fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM) -> None:
    workers.start("elsewhere", concurrency=1, queues="botex.anthropic")
    workers.wait_ready("elsewhere")
    # A queue of its own, so that the bots it leaves behind reach no worker of another test.
    result = cli(fleet_env, "submit", "-s", "widgets_pair", "-p", "2", "--model", "openai/stand-in",
                 "--api-base", fake_llm.api_base, "--queue", "botex.test-nobody")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "no live worker takes bots from botex.test-nobody: start one with 'botex-cli worker -Q botex.test-nobody'"
    )


@pytest.mark.parametrize(("change", "error"), [
    ({"BOTEX_BROKER_URL": "redis://:SECRET-PW@127.0.0.1:9/0"}, "Error: cannot reach the fleet's broker at redis://:**@127.0.0.1:9/0"),
    ({"LLM_MODEL": "mymodel"}, "Error: the fleet knows no LLM provider of model 'mymodel'"),
], ids=["broker", "provider"])
def test_submit_refuses_before_it_creates_a_session(
    fleet_env: dict[str, str], otree_server: RunningOtree, change: dict[str, str], error: str
) -> None:
    env = {**fleet_env, **change}
    before = len(otree_session_codes(otree_server))
    started = time.monotonic()
    result = cli(env, "submit", "-s", "widgets_pair", "-p", "2", timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(error), result.stderr
    assert "SECRET-PW" not in result.stderr
    assert time.monotonic() - started < 15
    assert len(otree_session_codes(otree_server)) == before


def otree_session_codes(otree_server: RunningOtree) -> list[str]:
    response = requests.get(f"{otree_server.url}/api/sessions", headers={"otree-rest-key": otree_server.rest_key}, timeout=10)
    response.raise_for_status()
    return [session["code"] for session in response.json()]


def test_retry_keeps_each_bots_model_unless_told_otherwise(
    fleet_env: dict[str, str], workers: Workers, fake_llm: FakeLLM
) -> None:
    fake_llm.inject("auth", times=2)  # each bot's first call: the bots fail at once
    workers.start("one", concurrency=2)
    result = cli(fleet_env, "submit", "-s", "widgets_pair", "-p", "2", "--model", "openai/stand-in",
                 "--api-base", fake_llm.api_base, "--wait", timeout=180)
    assert result.returncode == 1, "the provider refused every call: the bots failed"
    [session_id] = submitted_sessions(result)
    calls_before = len(fake_llm.requests)
    again = cli(fleet_env, "retry", session_id)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"session {session_id}: 2 bot(s) queued again"
    wait_for(lambda: all(p["status"] == "finished" for p in read_participants_from_botex_db(session_id, fleet_env["BOTEX_DB"])),
             120, "the retried bots did not finish")
    retried = fake_llm.requests[calls_before:]
    assert retried and {request["model"] for request in retried} == {"stand-in"}
    with session_scope(fleet_env["BOTEX_DB"]) as store:
        stored = [json.loads(row) for row in store.scalars(select(Participant.bot_settings).where(Participant.session_id == session_id))]
    assert {(s["settings"]["model"], s["settings"]["api_base"], s["queue"]) for s in stored} == {
        ("openai/stand-in", fake_llm.api_base, QUEUE)
    }
