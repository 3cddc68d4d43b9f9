"""Engines for the botex store: a SQLite file or any SQLAlchemy URL.

One engine per database URL and process. SQLite runs in WAL mode with a busy
timeout and takes its write lock at the start of every transaction, so many
processes can share one file; on PostgreSQL the schema is created under an
advisory lock so that workers starting together do not race.

A worker that drops off the network in the middle of a transaction leaves
its row locks held on PostgreSQL until the server notices, and by default it
does not for hours: every other worker that touches those rows (the one that
resumes its bots) would wait as long. So each connection asks the server to
end a transaction left idle for ``IDLE_IN_TRANSACTION_SECONDS``, and the
worker gives up on a link that stays silent for about ``DEAD_LINK_SECONDS``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from botex_core.errors import ConfigurationError, StoreUnreachableError
from botex_core.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 30_000
IDLE_IN_TRANSACTION_SECONDS = 60
DEAD_LINK_SECONDS = 60
# A server that does not answer a new connection within this long is down for now.
CONNECT_TIMEOUT_SECONDS = 10
_SCHEMA_LOCK_KEY = 0x626F746578  # "botex"

# Many bots share a process: each holds a connection only while it writes.
_POOL = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def database_url(botex_db: str) -> str:
    """The SQLAlchemy URL of ``botex_db``: a URL as it is, a file path as SQLite.

    ``postgres://`` and ``postgresql://`` URLs get the psycopg 3 driver.
    """
    target = botex_db
    if "://" not in target:
        return f"sqlite:///{os.path.abspath(target)}"
    scheme, rest = target.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return target


def get_engine(botex_db: str) -> Engine:
    """The engine of ``botex_db`` (path or URL), with its tables created on first use."""
    url = database_url(botex_db)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _new_engine(url)
            try:
                _create_schema(engine)
            except DBAPIError as exc:
                engine.dispose()
                raise StoreUnreachableError(
                    f"cannot reach botex database '{masked(url)}': {_first_line(exc.orig or exc)}"
                ) from None
            _engines[url] = engine
    return engine


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***``; a URL that cannot be read shows only its scheme
    (it may hold a password where the password cannot be told apart)."""
    if "://" not in url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return f"{url.split('://', 1)[0]}://..."


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def session_scope(botex_db: str) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with Session(get_engine(botex_db), expire_on_commit=False) as session:
        with session.begin():
            yield session


def store_answers(botex_db: str) -> bool:
    """Whether the store takes a query now (a probe while it is thought to be down)."""
    try:
        with get_engine(botex_db).connect() as connection:
            connection.execute(text("SELECT 1"))
    except (DBAPIError, StoreUnreachableError):
        return False
    return True


def dispose_engines() -> None:
    """Close every pooled connection of this process and forget the engines."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _new_engine(url: str) -> Engine:
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        # The parser's message may quote a piece of a password.
        raise ConfigurationError(
            f"cannot use botex database '{masked(url)}': not a database URL "
            "(a file path, or dialect://user:password@host:port/database)"
        ) from None
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url)
        if make_url(url).get_backend_name() == "postgresql":
            return _postgres_engine(url)
        return create_engine(url, **_POOL)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several kinds here
        raise ConfigurationError(f"cannot use botex database '{masked(url)}': {_first_line(exc)}") from None


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Autocommit at the driver level; SQLAlchemy's "begin" below opens
        # every transaction with BEGIN IMMEDIATE instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: str) -> Engine:
    # libpq's keepalives notice a silent peer while the link is idle, its TCP user timeout while a
    # request waits unacknowledged.
    dead_link = {"keepalives": 1, "keepalives_idle": DEAD_LINK_SECONDS // 2, "keepalives_interval": DEAD_LINK_SECONDS // 6,
                 "keepalives_count": 3, "tcp_user_timeout": DEAD_LINK_SECONDS * 1000,
                 "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    engine = create_engine(url, **_POOL, connect_args=dead_link)

    @event.listens_for(engine, "connect")
    def _end_abandoned_transactions(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_SECONDS}s'")
        cursor.close()
        dbapi_connection.autocommit = autocommit

    return engine


def _create_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        Base.metadata.create_all(connection)
        _add_missing_columns(connection)


def _add_missing_columns(connection: Connection) -> None:
    """Give tables made by an older botex-fleet the columns added since (all of them may be empty)."""
    inspector = inspect(connection)
    for table in Base.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=connection.dialect)
                connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _forget_engines_after_fork() -> None:
    # A forked child must not reuse its parent's connections, nor a lock that
    # another parent thread may have held at the moment of the fork.
    global _engines_lock
    _engines_lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines_after_fork)
