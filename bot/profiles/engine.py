"""Engines for the profile store, configured so that concurrent writers are safe."""
from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from bot.profiles.settings import ProfileSettings

# Execution option that marks a connection's transaction as a writer: on SQLite it
# then starts with BEGIN IMMEDIATE (see _configure_sqlite); elsewhere it is ignored.
WRITE_OPTION = "kai_profile_write"


def create_profile_engine(settings: ProfileSettings) -> Engine:
    """An engine with the per-backend settings that make concurrent writers safe."""
    if settings.backend == "sqlite":
        settings.ensure_sqlite_folder()
        engine = create_engine(
            settings.url,
            future=True,
            connect_args={"timeout": settings.sqlite_busy_timeout_s, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    # pre_ping replaces connections the server closed (restart, failover) before use.
    return create_engine(settings.url, future=True, pool_pre_ping=True, max_overflow=20)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE for writers (SQLAlchemy's pysqlite recipe).

    pysqlite's own transaction handling starts transactions late and cannot upgrade a
    reader to a writer without risking "database is locked"; taking the write lock at
    BEGIN makes concurrent writers queue on the busy timeout instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
        writer = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")
