"""Bring a profile database to the newest schema (Alembic), safely and repeatably.

Called on every start-up: upgrading a database that is already at ``head`` does
nothing, and on PostgreSQL an advisory lock makes concurrent start-ups (action
server workers, benchmark processes) take turns instead of racing.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.profiles.engine import WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every process of this app.
_PG_MIGRATION_LOCK_ID = 0x6B61_6901


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run every pending migration on ``engine`` (idempotent)."""
    config = alembic_config()
    # As a writer: on SQLite, concurrent start-ups then queue for the write lock.
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Transaction-scoped: released when this block commits.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": "profile_schema_version"}
        )
        return context.get_current_revision()
