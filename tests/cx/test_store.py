"""The store: migrations build the schema the models describe, on SQLite and PostgreSQL; first start."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text

from cx import auth
from cx.db import current_revision, head_revision, make_engine, migrate, transaction
from cx.models import Base, User
from cx.settings import Settings
from cx.store import is_empty, open_store


def test_migrations_create_the_schema_of_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ; run python -m cx.migrations.autogen: {diff}"


def test_migrate_twice_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    assert current_revision(engine) == head_revision()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_first_start_creates_admin_with_configured_password(settings: Settings) -> None:
    engine = open_store(settings)
    with transaction(engine) as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.role == "admin"
        assert auth.verify_password(admin.password_hash, settings.admin_password or "")
    assert is_empty(engine)


def test_generated_admin_password_is_printed_once(settings: Settings, capsys) -> None:
    settings = settings.with_overrides(admin_password=None)
    engine = open_store(settings)
    printed = capsys.readouterr().err
    assert "user 'admin', password '" in printed
    password = printed.split("password '")[1].split("'")[0]
    with transaction(engine) as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert auth.verify_password(admin.password_hash, password)
    open_store(settings)
    assert "password" not in capsys.readouterr().err
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
