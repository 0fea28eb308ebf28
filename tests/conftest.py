"""Shared fixtures: a real store on SQLite always and on PostgreSQL when CX_TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cx.db import make_engine, migrate, transaction
from cx.settings import Settings, load_settings

# Tests start workers themselves where they test them; an app under test must not start its embedded one.
os.environ.setdefault("CX_EMBEDDED_WORKER", "0")

TEST_ADMIN_PASSWORD = "admin-test-pw-1"
PG_URL = os.environ.get("CX_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster than per test)."""
    path = tmp_path_factory.mktemp("template") / "cx.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test process, migrated once, dropped at the end."""
    if not PG_URL:
        pytest.skip("CX_TEST_DATABASE_URL is not set: PostgreSQL leg skipped")
    name = f"cx_test_{_worker_suffix()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated store: a fresh SQLite file, or the truncated PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "cx.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate_all(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests whose subject is file-specific."""
    path = tmp_path / "cx.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    assert engine.pool.checkedout() == 0, "a test leaked a database connection"
    engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        environ={
            "CX_DATABASE_URL": db_url,
            "CX_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD,
            "CX_DEMO_MODE": "1",
            "CX_EMBEDDED_WORKER": "0",
        },
        secrets_path=tmp_path / "no-secrets.toml",
    )


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """One transaction, committed at the end of the test."""
    with transaction(engine) as s:
        yield s
