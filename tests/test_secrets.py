"""Secrets planted in every channel reach none of the places a fleet writes or shows."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from botex_core.store import get_engine
from botex_fleet import init_otree_session, read_participants_from_botex_db, run_bots_on_session
from tests.conftest import REPO, RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.fleet import cli, submitted_sessions
from tests.support.services import PostgresCluster, RedisServer, free_port, wait_for_port
from tests.support.workers import BOTEX_CLI, Workers

SENTINELS = {
    name: f"SENTINEL-{name}-{uuid.uuid4().hex[:8]}"
    for name in ("workerkey", "apikey", "dbpassword", "redispassword", "flower", "helicone", "xapikey",
                 "apikeyheader", "apim", "gateway", "body")
}
# Credentials with ordinary names, in headers and nested in extra_body: what gateways and proxies take.
ORDINARY = ["helicone", "xapikey", "apikeyheader", "apim", "gateway", "body"]
GATEWAY_PARAMETERS = {
    "extra_headers": {"Helicone-Auth": f"Bearer {SENTINELS['helicone']}", "X-Api-Key": SENTINELS["xapikey"],
                      "api-key": SENTINELS["apikeyheader"], "Ocp-Apim-Subscription-Key": SENTINELS["apim"],
                      "X-Gateway": SENTINELS["gateway"]},
    "extra_body": {"gateway": {"route": SENTINELS["body"]}},
}


def gateway_parameters_arrived(fake_llm: FakeLLM) -> bool:
    """Whether every request brought the gateway headers and the extra_body value to the stand-in."""
    expected = {name.lower(): value for name, value in GATEWAY_PARAMETERS["extra_headers"].items()}
    return bool(fake_llm.requests) and all(
        {name.lower(): value for name, value in headers.items() if name.lower() in expected} == expected
        and request.get("gateway") == {"route": SENTINELS["body"]}
        for headers, request in zip(fake_llm.headers, fake_llm.requests))


def store_dump(botex_db: str) -> str:
    engine = get_engine(botex_db)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return "\n".join(repr(row) for table in metadata.sorted_tables for row in connection.execute(select(table)))


def redis_dump(server: RedisServer) -> str:
    client = redis.Redis.from_url(server.url)
    values = []
    for key in client.scan_iter():
        kind = client.type(key).decode()
        read = {"string": client.get, "list": lambda k: client.lrange(k, 0, -1), "hash": client.hgetall,
                "set": client.smembers, "zset": lambda k: client.zrange(k, 0, -1)}.get(kind)
        values.append(f"{key!r} {read(key) if read else kind!r}")
    files = [path.read_bytes().decode(errors="replace") for path in Path(server.folder).rglob("*") if path.is_file()]
    return "\n".join(values + files)


def leaked(text: str, names: list[str]) -> list[str]:
    return [name for name in names if SENTINELS[name] in text]


def test_no_secret_reaches_the_store_redis_logs_flower_or_exports(
    postgres_cluster: PostgresCluster, otree_server: RunningOtree, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    redis_server = RedisServer.start(str(tmp_path), appendonly=True, password=SENTINELS["redispassword"])
    database = make_url(postgres_cluster.create_database("secrets_" + uuid.uuid4().hex[:8]))
    database = database.set(password=SENTINELS["dbpassword"]).render_as_string(hide_password=False)
    env = {
        **os.environ, "BOTEX_BROKER_URL": redis_server.url, "BOTEX_DB": database, "BOTEX_LEASE_SECONDS": "4",
        "OPENAI_API_KEY": SENTINELS["workerkey"], "OTREE_SERVER_URL": otree_server.url,
        "OTREE_REST_KEY": otree_server.rest_key, "FLOWER_BASIC_AUTH": f"admin:{SENTINELS['flower']}",
        "BOTEX_LLM_PARAMETERS": json.dumps(GATEWAY_PARAMETERS),
    }
    workers = Workers(env, tmp_path)
    port = free_port()
    with open(tmp_path / "flower.log", "w") as log:
        flower = subprocess.Popen([BOTEX_CLI, "flower", "--port", str(port)], env=env, cwd=REPO,
                                  start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        workers.start("one", concurrency=2)
        submitted = cli(env, "submit", "-s", "widgets_pair", "-p", "2", "--model", "openai/stand-in",
                        "--api-base", fake_llm.api_base, "--wait", timeout=180)
        assert submitted.returncode == 0, submitted.stderr + workers.logs()
        [session_id] = submitted_sessions(submitted)
        wait_for_port(port, 30)
        login = ("admin", SENTINELS["flower"])
        shown = requests.get(f"http://127.0.0.1:{port}/api/tasks", auth=login, timeout=10).text
        shown += requests.get(f"http://127.0.0.1:{port}/api/workers", params={"refresh": "1"}, auth=login, timeout=30).text
        exports = [cli(env, "export", table, str(tmp_path / f"{table}.csv"), "--session", session_id)
                   for table in ("participants", "responses", "conversations")]
        assert all(export.returncode == 0 for export in exports), [export.stderr for export in exports]
        refused = subprocess.run([sys.executable, "-c", RUN_WITH_HEADERS], env=env, cwd=REPO,
                                 capture_output=True, text=True, timeout=120)
        assert "cannot travel to fleet workers (extra_body.gateway.route, extra_headers.Helicone-Auth" in refused.stderr
    finally:
        os.killpg(flower.pid, signal.SIGTERM)
        flower.wait(20)
        workers.stop_all()
    assert set(fake_llm.authorizations) == {f"Bearer {SENTINELS['workerkey']}"}, "the workers used their own key"
    assert gateway_parameters_arrived(fake_llm), "the workers sent their own gateway parameters"
    everything = "\n".join([refused.stdout, refused.stderr,
        store_dump(database), redis_dump(redis_server), workers.logs(), (tmp_path / "flower.log").read_text(), shown,
        submitted.stdout, submitted.stderr, *(export.stdout + export.stderr for export in exports),
        *((tmp_path / f"{table}.csv").read_text() for table in ("participants", "responses", "conversations")),
    ])
    redis_server.stop()
    assert not leaked(everything, ["workerkey", "dbpassword", "redispassword", "flower", *ORDINARY])
    assert otree_server.rest_key not in everything


RUN_WITH_HEADERS = f"""
from botex_fleet import init_otree_session, run_bots_on_session
session = init_otree_session("widgets_pair", 2)
run_bots_on_session(session["session_id"], model="openai/stand-in", **{GATEWAY_PARAMETERS!r})
"""


def test_no_secret_given_in_python_is_stored_or_shown(
    postgres_cluster: PostgresCluster, otree_server: RunningOtree, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    database = make_url(postgres_cluster.create_database("secrets_" + uuid.uuid4().hex[:8]))
    database = database.set(password=SENTINELS["dbpassword"]).render_as_string(hide_password=False)
    session = init_otree_session("widgets_pair", 2, botex_db=database, otree_server_url=otree_server.url,
                                 otree_rest_key=otree_server.rest_key)
    run_bots_on_session(session["session_id"], botex_db=database, model="openai/stand-in",
                        api_key=SENTINELS["apikey"], api_base=fake_llm.api_base, **GATEWAY_PARAMETERS)
    assert set(fake_llm.authorizations) == {f"Bearer {SENTINELS['apikey']}"}
    assert gateway_parameters_arrived(fake_llm), "the bots sent the parameters they were given"
    assert [row["status"] for row in read_participants_from_botex_db(session["session_id"], database)] == ["finished"] * 2
    everything = "\n".join([store_dump(database), caplog.text])
    assert not leaked(everything, ["apikey", "dbpassword", *ORDINARY])
