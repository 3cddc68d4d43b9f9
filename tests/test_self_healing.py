"""The fleet heals itself: no person steps in after a worker dies or Redis restarts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from botex_fleet import init_otree_session, read_participants_from_botex_db, read_responses_from_botex_db
from botex_core.store import get_engine, utcnow
from botex_worker.kombu_adapter import held_messages
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.fault_proxy import FaultProxy
from tests.support.services import PostgresCluster, RedisServer
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


@pytest.mark.parametrize("appendonly", [True, False], ids=["aof", "no-aof"])
def test_workers_survive_a_redis_restart_and_every_bot_finishes(
    fleet_env: dict[str, str], tmp_path: Path, slow_llm: FakeLLM, appendonly: bool
) -> None:
    redis = RedisServer.start(str(tmp_path), appendonly=appendonly, password="redis-" + uuid.uuid4().hex[:8])
    env = {**fleet_env, "BOTEX_BROKER_URL": redis.url, "BOTEX_VISIBILITY_TIMEOUT": "3600"}
    workers = Workers(env, tmp_path)
    try:
        workers.start("one", concurrency=4)
        workers.start("two", concurrency=4)
        result = cli(env, "submit", "-s", "widgets_pair", "-p", "4", "--sessions", "3",
                     "--model", "openai/stand-in", "--api-base", slow_llm.api_base)
        assert result.returncode == 0, result.stderr
        sessions = submitted_sessions(result)
        wait_for(lambda: sum(len(read_responses_from_botex_db(env["BOTEX_DB"], code)) for code in sessions) >= 20,
                 120, "the bots did not start")
        redis.restart(down_seconds=3)
        finished = lambda: all_finished(env["BOTEX_DB"], sessions)  # noqa: E731
        wait_for(finished, 240,
                 lambda: "not every bot finished after the restart\n" + where_bots_stand(env["BOTEX_DB"], sessions, workers))
        assert workers.alive("one") and workers.alive("two"), workers.logs()
    finally:
        workers.stop_all()
        redis.stop()
    assert "Unrecoverable error" not in workers.logs()
    assert duplicated_answers(env["BOTEX_DB"]) == 0
    for code in sessions:
        assert len(read_responses_from_botex_db(env["BOTEX_DB"], code)) == 4 * 10


@pytest.fixture
def workers_of(tmp_path: Path) -> Iterator[list[Workers]]:
    """Worker pools a test makes with its own environment; all stopped at the end."""
    pools: list[Workers] = []
    try:
        yield pools
    finally:
        for pool in pools:
            pool.stop_all()


def play_through_an_outage(env: dict[str, str], proxy: FaultProxy, workers: Workers, seconds: float,
                           store: str) -> list[str]:
    """Submit two sessions, cut ``proxy`` for ``seconds`` once the bots play, and wait until every bot finished;
    ``store`` is where the test reads the bots' progress (it may not go through the proxy)."""
    try:
        workers.start("one", concurrency=4)
        result = cli(env, "submit", "-s", "widgets_pair", "-p", "2", "--sessions", "2",
                     "--model", "openai/stand-in", "--api-base", env["API_BASE"])
        assert result.returncode == 0, result.stderr
        sessions = submitted_sessions(result)
        wait_for(lambda: sum(len(read_responses_from_botex_db(store, code)) for code in sessions) >= 10,
                 120, "the bots did not start")
        proxy.cut()
        time.sleep(seconds)
        proxy.restore()
        wait_for(lambda: all_finished(store, sessions), 240, "the bots did not wait out the outage")
    finally:
        proxy.stop()
    assert duplicated_answers(store) == 0
    assert all(len(read_responses_from_botex_db(store, code)) == 2 * 10 for code in sessions)
    return sessions


def test_an_otree_outage_is_waited_out(
    fleet_env: dict[str, str], otree_server: RunningOtree, tmp_path: Path, slow_llm: FakeLLM, workers_of: list[Workers]
) -> None:
    proxy = FaultProxy(urlparse(otree_server.url).port).start()
    env = {**fleet_env, "OTREE_SERVER_URL": f"http://127.0.0.1:{proxy.port}", "BOTEX_TASK_RETRY_SECONDS": "2",
           "API_BASE": slow_llm.api_base}
    workers = Workers(env, tmp_path)
    workers_of.append(workers)
    play_through_an_outage(env, proxy, workers, 20, env["BOTEX_DB"])
    log = (tmp_path / "one.log").read_text()
    assert "the oTree server did not answer" in log and "trying again in" in log


def test_a_store_outage_is_waited_out(
    fleet_env: dict[str, str], postgres_cluster: PostgresCluster, tmp_path: Path, slow_llm: FakeLLM,
    workers_of: list[Workers]
) -> None:
    proxy = FaultProxy(postgres_cluster.port).start()
    database = make_url(fleet_env["BOTEX_DB"]).set(port=proxy.port).render_as_string(hide_password=False)
    env = {**fleet_env, "BOTEX_DB": database, "BOTEX_TASK_RETRY_SECONDS": "2", "API_BASE": slow_llm.api_base}
    workers = Workers(env, tmp_path)
    workers_of.append(workers)
    play_through_an_outage(env, proxy, workers, 10, fleet_env["BOTEX_DB"])
    assert "the store is unreachable" in (tmp_path / "one.log").read_text()


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
