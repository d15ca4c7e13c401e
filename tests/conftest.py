"""Fixtures shared by the test suite."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.servers import PROJECT_ROOT


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The newest model trained from the project (`make train`, run by `make test`).

    KAI_TEST_MODEL=path/to/model.tar.gz runs the tests against that model instead.
    """
    if os.environ.get("KAI_TEST_MODEL"):
        return Path(os.environ["KAI_TEST_MODEL"])
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("No trained model in models/: run `make train` first (make test does).")
    return models[-1]


# PostgreSQL on 127.0.0.1:5432 (trust auth locally; override with KAI_TEST_PG_ADMIN_URL).
PG_ADMIN_URL = os.environ.get("KAI_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end; fails if PG is down."""
    import uuid

    import sqlalchemy as sa

    name = f"kai_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL} and is not reachable: {error.orig}")
    try:
        yield str(sa.engine.make_url(PG_ADMIN_URL).set(database=name))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# One `rasa run` with every channel on, shared by tests/test_channels_*.py and
# tests/test_webchat_browser.py (see tests/channel_stack.py).
from tests.channel_stack import channel_stack  # noqa: E402,F401
