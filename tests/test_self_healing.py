"""The fleet heals itself: no person steps in after a worker dies.

Redis restarts (with and without its append-only file) and outages of oTree and of the store are
proven by the fault suite's quick form (tests/test_fault_suite.py, benchmarks/faults.py), which also
holds the bots to being back in play within 15 s of a service's return."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from botex_fleet import init_otree_session, read_participants_from_botex_db, read_responses_from_botex_db
from botex_core.store import get_engine, utcnow
from botex_worker.kombu_adapter import held_messages
from tests.support.fake_llm import FakeLLM
from tests.support.waiting import wait_for
from tests.support.workers import Workers
from tests.support.fleet import cli, submitted_sessions


@pytest.fixture
def slow_llm() -> Iterator[FakeLLM]:
    llm = FakeLLM(latency=0.7).start()
    try:
        yield llm
    finally:
        llm.stop()


def duplicated_answers(botex_db: str) -> int:
    with get_engine(botex_db).connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM (SELECT session_id, participant_id, question_id, round FROM answers "
            "GROUP BY session_id, participant_id, question_id, round HAVING count(*) > 1) d"
        )).scalar()


def all_finished(botex_db: str, sessions: list[str]) -> bool:
    return all(row["status"] == "finished" for code in sessions for row in read_participants_from_botex_db(code, botex_db))


def where_bots_stand(botex_db: str, sessions: list[str], workers: Workers) -> str:
    """Each bot's status and reason, and the end of the workers' logs: what a failed wait reports."""
    rows = [row for code in sessions for row in read_participants_from_botex_db(code, botex_db)]
    bots = "\n".join(f"{row['participant_id']} {row['status']}: {row['status_reason']}" for row in rows)
    return f"{bots}\n{workers.logs()}"


def test_the_bots_of_a_killed_worker_come_back_without_a_person(
    fleet_env: dict[str, str], tmp_path: Path, slow_llm: FakeLLM
) -> None:
    env = {**fleet_env, "BOTEX_VISIBILITY_TIMEOUT": "3600"}  # redelivery would take an hour
    workers = Workers(env, tmp_path)
    try:
        workers.start("doomed", concurrency=2)
        session = init_otree_session("widgets_pair", 2, botex_db=env["BOTEX_DB"],
                                     otree_server_url=env["OTREE_SERVER_URL"], otree_rest_key=env["OTREE_REST_KEY"])
        code = session["session_id"]
        result = cli(env, "retry", code, "--model", "openai/stand-in", "--api-base", slow_llm.api_base)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: len(read_responses_from_botex_db(env["BOTEX_DB"], code)) >= 9, 120, "the bots did not start")
        workers.start("survivor", concurrency=2)
        workers.kill("doomed")
        status = cli(env, "status", code).stdout
        wait_for(lambda: all_finished(env["BOTEX_DB"], [code]), 120, "the bots of the dead worker were not resumed")
    finally:
        workers.stop_all()
    rows = read_participants_from_botex_db(code, env["BOTEX_DB"])
    assert [row["attempts"] for row in rows] == [2, 2]
    assert "reconciler: queued 2 stranded bot(s) again" in workers.logs()
    assert duplicated_answers(env["BOTEX_DB"]) == 0
    assert len(read_responses_from_botex_db(env["BOTEX_DB"], code)) == 20
    assert "running" in status or "recovering" in status


def test_a_bot_that_gave_its_slot_back_comes_back_when_the_worker_holding_it_dies(
    fleet_env: dict[str, str], tmp_path: Path, fake_llm: FakeLLM
) -> None:
    """The worker holds the bot's message for its countdown; once it is dead the message is gone, not merely late."""
    env = {**fleet_env, "BOTEX_VISIBILITY_TIMEOUT": "3600", "BOTEX_GIVE_BACK_SLOT_SECONDS": "1"}
    workers = Workers(env, tmp_path)
    try:
        workers.start("doomed", concurrency=1)
        result = cli(env, "submit", "-s", "widgets_pair", "-p", "2", "-n", "1",  # the human partner never comes
                     "--model", "openai/stand-in", "--api-base", fake_llm.api_base)
        assert result.returncode == 0, result.stderr
        [code] = submitted_sessions(result)
        client = redis.Redis.from_url(env["BOTEX_BROKER_URL"])

        def held_while_given_back() -> bool:
            [row] = [r for r in read_participants_from_botex_db(code, env["BOTEX_DB"]) if not r["is_human"]]
            held = {message.bot for message in held_messages(client)}
            return row["status"] == "queued" and f"{code}/{row['participant_id']}" in held

        wait_for(held_while_given_back, 90, "the bot never gave its slot back")
        workers.kill("doomed")
        workers.start("survivor", concurrency=1)
        # within a few leases, where waiting for a worker to let go of a held message took minutes
        wait_for(lambda: "its message was lost" in workers.logs(), 30, "the bot held by the dead worker did not come back")
        survivor_log = tmp_path / "survivor.log"
        wait_for(lambda: "gave its slot back" in survivor_log.read_text(), 30, "the survivor did not take the bot on")
    finally:
        workers.stop_all()


def test_a_bot_whose_failed_run_could_not_give_its_lease_back_runs_again_once_the_lease_lapses(
    fleet_env: dict[str, str], tmp_path: Path, fake_llm: FakeLLM
) -> None:
    """A run stopped by a store outage writes 'failed', then cannot release its lease (the store is still
    down); the bot's next message must wait for the lease, not take 'failed' for the end."""
    env = {**fleet_env, "BOTEX_LEASE_SECONDS": "3"}
    session = init_otree_session("widgets_pair", 2, botex_db=env["BOTEX_DB"],
                                 otree_server_url=env["OTREE_SERVER_URL"], otree_rest_key=env["OTREE_REST_KEY"])
    code = session["session_id"]
    result = cli(env, "retry", code, "--model", "openai/stand-in", "--api-base", fake_llm.api_base)
    assert result.returncode == 0, result.stderr
    with get_engine(env["BOTEX_DB"]).begin() as connection:
        connection.execute(text(
            "UPDATE participants SET status = 'failed', status_reason = 'the store is unreachable', "
            "lease_owner = 'gone/run', lease_expires_at = :expires WHERE session_id = :code"
        ), {"expires": utcnow() + timedelta(seconds=3), "code": code})
    workers = Workers(env, tmp_path)
    try:
        workers.start("next", concurrency=2)
        wait_for(lambda: all_finished(env["BOTEX_DB"], [code]), 120, "the bots stayed failed")
    finally:
        workers.stop_all()
