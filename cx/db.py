"""Engine and session factory for the store, and the Alembic migration run done on every start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cx.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK_ID = 727_001  # PostgreSQL advisory lock held while migrating
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_BEGIN_IMMEDIATE = "cx_begin_immediate"  # execution option read by the SQLite begin hook (see transaction())


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and SQLAlchemy-managed BEGIN (pysqlite's legacy mode skips it)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A new engine for ``url``; SQLite files get their folder created and the pragmas above."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def get_engine(url: str) -> Engine:
    """The process-wide engine for ``url`` (one pool per URL)."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (pages render them after the transaction)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine, *, immediate: bool = False) -> Iterator[Session]:
    """``with transaction(engine) as session:`` — one unit of work, committed at the end or rolled back.

    ``immediate=True`` is for work that reads and then writes: on SQLite the transaction starts with
    ``BEGIN IMMEDIATE``, taking the write lock before the first read, so a concurrent writer makes it wait (up to the
    busy timeout) instead of failing with "database is locked" at its first write. On PostgreSQL it is a plain
    transaction (row locks and unique constraints do that job there).
    """
    sqlite = engine.dialect.name == "sqlite"
    bind = engine.execution_options(**{_BEGIN_IMMEDIATE: True}) if immediate and sqlite else engine
    with session_factory(bind)() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(create_engine("sqlite://"))).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (``alembic upgrade head``); safe to call from several processes."""
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as lock_connection:
                lock_connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
                try:
                    command.upgrade(alembic_config(engine), "head")
                finally:
                    lock_connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                    lock_connection.commit()
        else:
            command.upgrade(alembic_config(engine), "head")
    except OperationalError as exc:
        raise StoreError(
            f"Cannot reach the store at {engine.url.render_as_string(hide_password=True)}: {exc.orig}. "
            "Check CX_DATABASE_URL and that the database server is running."
        ) from exc
    except CommandError as exc:
        raise StoreError(
            f"The store at {engine.url.render_as_string(hide_password=True)} has a schema this version does not "
            f"know ({exc}). It was written by another version of the product: use that version, or point "
            "CX_DATABASE_URL at a new database."
        ) from exc


def check_connection(engine: Engine) -> None:
    """Raise StoreError with a readable message when the database does not answer."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise StoreError(
            f"Cannot reach the store at {engine.url.render_as_string(hide_password=True)}: {exc.orig}. "
            "Check CX_DATABASE_URL and that the database server is running."
        ) from exc
