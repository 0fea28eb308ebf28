"""transaction(engine, immediate=True): two read-then-write transactions on one SQLite file both succeed."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from cx.db import make_engine, transaction
from cx.models import WorkerLease

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _read_then_write(engine: Engine, immediate: bool, barrier: threading.Barrier, errors: list[str]) -> None:
    """Read the counter, wait for the other thread (or 2 s), write counter + 1."""
    try:
        with transaction(engine, immediate=immediate) as session:
            value = session.execute(text("SELECT n FROM counter")).scalar_one()
            with contextlib.suppress(threading.BrokenBarrierError):  # immediate: the other one waits in BEGIN
                barrier.wait(timeout=2)  # both have read before either writes
            session.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})
    except OperationalError as exc:
        errors.append(str(exc.orig))


def _race(url: str, immediate: bool) -> tuple[int, list[str]]:
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE IF NOT EXISTS counter (n INTEGER NOT NULL)"))
            session.execute(text("DELETE FROM counter"))
            session.execute(text("INSERT INTO counter (n) VALUES (0)"))
        barrier = threading.Barrier(2)
        errors: list[str] = []
        threads = [threading.Thread(target=_read_then_write, args=(engine, immediate, barrier, errors)) for _ in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with transaction(engine) as session:
            return session.execute(text("SELECT n FROM counter")).scalar_one(), errors
    finally:
        engine.dispose()


def test_plain_transactions_that_read_first_can_fail_on_sqlite(sqlite_url: str) -> None:
    """The problem immediate=True solves: the second writer's snapshot is stale, so it fails at once."""
    value, errors = _race(sqlite_url, immediate=False)
    assert value == 1 and len(errors) == 1 and "database is locked" in errors[0]


def test_immediate_transactions_wait_for_each_other_on_sqlite(sqlite_url: str) -> None:
    value, errors = _race(sqlite_url, immediate=True)
    assert errors == [] and value == 2  # neither failed, and no update was lost


def test_immediate_is_a_normal_transaction(engine: Engine) -> None:
    """Commits at the end, rolls back on an error (SQLite and PostgreSQL alike)."""
    with transaction(engine, immediate=True) as session:
        session.add(WorkerLease(name="a", holder="h", acquired_at=T0, expires_at=T0))
    with contextlib.suppress(RuntimeError), transaction(engine, immediate=True) as session:
        session.add(WorkerLease(name="b", holder="h", acquired_at=T0, expires_at=T0))
        session.flush()
        raise RuntimeError("boom")
    with transaction(engine) as session:
        assert session.scalars(select(WorkerLease.name)).all() == ["a"]
