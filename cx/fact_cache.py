"""A process-wide, read-only polars copy of ``daily_facts`` per engine, reloaded when the stored facts change.

Boards read the daily facts many ways per render (four comparison periods, trends, five breakdowns); summing them
in memory takes milliseconds where the same sums in SQLite take hundreds. The copy holds only aggregated counts
(no personal data), ~350 bytes per fact row (about 70 MB for the ~190,000 fact rows of 1M interactions).

Freshness: at most every RECHECK_S seconds a read compares a cheap stamp of the stored facts (highest id, first and
last day, latest ETL batch: index look-ups) with the copy's and reloads on any difference, so an ETL run shows on
boards within seconds. Code that rewrites facts outside an ETL batch calls :func:`forget`.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cx.models import DailyFact, LoadBatch

FACTS = DailyFact.__table__
COLUMNS = tuple(c.name for c in FACTS.columns if c.name != "id")
_FLOATS = {c.name for c in FACTS.columns if c.name != "id" and c.type.python_type is float}
_STRINGS = {c.name for c in FACTS.columns if c.type.python_type is str}
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    c: pl.Date if c == "day" else (pl.String if c in _STRINGS else (pl.Float64 if c in _FLOATS else pl.Int64))
    for c in COLUMNS
}


#: Seconds a copy is used without re-checking the stamp (an ETL run shows on boards at most this much later).
RECHECK_S = 5.0


@dataclass
class _Entry:
    stamp: tuple[object, ...]
    frame: pl.DataFrame
    checked_at: float


_lock = threading.Lock()
_copies: weakref.WeakKeyDictionary[Engine, _Entry] = weakref.WeakKeyDictionary()


def _stamp(session: Session) -> tuple[object, ...]:
    """Highest id, first and last day of the stored facts and the latest ETL batch: index look-ups only."""
    highest = session.scalar(select(func.max(FACTS.c.id)))
    first = session.scalar(select(func.min(FACTS.c.day)))
    last = session.scalar(select(func.max(FACTS.c.day)))
    batch = session.execute(select(LoadBatch.id, LoadBatch.finished_at).order_by(LoadBatch.id.desc()).limit(1)).first()
    return (highest, first, last, tuple(batch) if batch else None)


def _load(session: Session) -> pl.DataFrame:
    cursor = session.connection().exec_driver_sql(
        "SELECT " + ", ".join(f'"{c}"' for c in COLUMNS) + f' FROM "{FACTS.name}"'
    )
    rows = cursor.fetchall()
    raw_schema = {c: (pl.String if c == "day" else t) for c, t in SCHEMA.items()}
    if rows and isinstance(rows[0][0], date):
        raw_schema["day"] = pl.Date
    frame = pl.DataFrame(rows, schema=raw_schema, orient="row")
    if frame.schema["day"] == pl.String:
        frame = frame.with_columns(pl.col("day").str.to_date("%Y-%m-%d"))
    return frame.sort("day")


def facts(session: Session) -> pl.DataFrame:
    """Every stored daily fact row (sorted by day), from the process's copy while it is current."""
    engine = session.get_bind()
    entry = _copies.get(engine)  # type: ignore[arg-type]
    now = time.monotonic()
    if entry is not None and now - entry.checked_at < RECHECK_S:
        return entry.frame
    stamp = _stamp(session)
    if entry is not None and entry.stamp == stamp:
        entry.checked_at = now
        return entry.frame
    with _lock:
        entry = _copies.get(engine)  # type: ignore[arg-type]
        if entry is None or entry.stamp != stamp:
            entry = _Entry(stamp, _load(session), time.monotonic())
            _copies[engine] = entry  # type: ignore[index]
    return entry.frame


def forget(engine: Engine) -> None:
    """Drop the copy of ``engine`` (tests and tools that rewrite facts without an ETL batch)."""
    with _lock:
        _copies.pop(engine, None)


def forget_all() -> None:
    """Drop every copy (tests that reuse one database between cases)."""
    with _lock:
        _copies.clear()
