"""The set-up scripts install real services, and the fixtures run them."""

from __future__ import annotations

import redis
from sqlalchemy import create_engine, text

from tests.support.services import PostgresCluster, RedisServer


def test_redis_fixture_serves_commands(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping()
    client.set("botex:test", "42")
    assert client.get("botex:test") == b"42"


def test_postgres_fixture_creates_separate_databases(postgres_cluster: PostgresCluster) -> None:
    first = create_engine(postgres_cluster.create_database("botex_services_a"))
    second = create_engine(postgres_cluster.create_database("botex_services_b"))
    with first.begin() as connection:
        connection.execute(text("CREATE TABLE marker (value integer)"))
    with second.connect() as connection:
        assert connection.execute(text("SELECT to_regclass('marker')")).scalar() is None
        assert connection.execute(text("SHOW server_version")).scalar()
    first.dispose()
    second.dispose()
