"""Alembic environment of the profile store.

Run programmatically by :func:`bot.profiles.migrate.upgrade` at start-up, which
passes an open connection in ``config.attributes["connection"]``.
"""
from alembic import context
from sqlalchemy import create_engine

from bot.profiles.models import Base
from bot.profiles.settings import default_url


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        # Keep Alembic's bookkeeping apart from Rasa's tables if both share a database.
        version_table="profile_schema_version",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:  # `alembic` command line: connect from PROFILE_DB_URL or the default
    with create_engine(default_url(), future=True).connect() as new_connection:
        run_migrations(new_connection)
