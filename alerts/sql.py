"""Insert-or-ignore on a unique key, the same on SQLite and PostgreSQL (the heart of exactly-once)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    returning: str | Sequence[str] | None = None,
) -> list[Any]:
    """Insert ``rows``; rows whose unique key already exists are skipped atomically by the database.

    Returns the ``returning`` column (or a tuple of the ``returning`` columns) of the rows actually inserted, so only
    they get notified.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    statement = insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    # One statement executed for many parameter sets: SQLAlchemy batches it ("insertmanyvalues") and compiles once.
    if returning is None:
        session.execute(statement, list(rows))
        return []
    if isinstance(returning, str):
        return list(session.scalars(statement.returning(table.c[returning]), list(rows)))
    return [tuple(row) for row in session.execute(statement.returning(*(table.c[c] for c in returning)), list(rows))]


def among(session: Session, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` with all the values in ONE bound parameter — an array on PostgreSQL (``= ANY(...)``), a
    JSON list on SQLite (``IN (SELECT value FROM json_each(...))``) — so the statement stays short and cached however
    many values there are (no IN list of thousands of placeholders to render, send and parse; no chunking).

    Values are strings or integers (ids, keys).
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    listed = func.json_each(bindparam(None, json.dumps(list(values)), type_=String())).table_valued("value")
    return column.in_(select(listed.c.value))


def write_lock(session: Session) -> None:
    """On SQLite, take the database's write lock now, before the transaction reads anything.

    A SQLite transaction that read first and writes later fails at once with "database is locked" when another
    process wrote in between (its snapshot is stale, so the busy timeout cannot help). Writing first makes it wait
    for the other writer instead. A no-op on PostgreSQL, whose row locks handle this.

    For functions that run in their caller's transaction. Code that opens its own uses
    ``cx.db.transaction(engine, immediate=True)`` instead (``BEGIN IMMEDIATE``; this is then a no-op).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE worker_leases SET holder = holder WHERE 1 = 0"))
