"""Reading the rows rule evaluation needs into polars frames: only the needed columns, only the needed time window."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal

import polars as pl
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alerts.sql import among
from cx.models import DailyFact, Interaction
from cx.schema import CANONICAL_FIELDS

#: Column -> polars dtype of the interactions table as rule evaluation sees it.
INTERACTION_DTYPES: dict[str, Any] = {
    "interaction_id": pl.String,
    "profile_id": pl.String,
    "batch_id": pl.Int64,
    **CANONICAL_FIELDS,
}
ID_CHUNK = 5000


def _to_frame(rows: Sequence[Any], columns: Sequence[str], dtypes: dict[str, Any]) -> pl.DataFrame:
    """Rows as the driver returned them (tuples) -> a typed frame, column by column (no per-value Python work)."""
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    series = []
    for name, column in zip(columns, values, strict=True):
        raw = pl.Series(name, list(column), strict=False)
        if name == "occurred_at":
            if raw.dtype == pl.String:
                raw = raw.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
            elif isinstance(raw.dtype, pl.Datetime):
                raw = raw.dt.convert_time_zone("UTC") if raw.dtype.time_zone else raw.dt.replace_time_zone("UTC")
                raw = raw.dt.cast_time_unit("us")
            else:
                raw = raw.cast(pl.Datetime("us", "UTC"))
            series.append(raw)
        else:
            series.append(raw.cast(dtypes.get(name, pl.String), strict=False))
    return pl.DataFrame(series)


def _fetch(session: Session, query: Any) -> list[Any]:
    """All rows of ``query`` straight from the driver's cursor (SQLAlchemy's per-value processing skipped)."""
    result = session.execute(query)
    return result.cursor.fetchall() if result.cursor is not None else []


def read_interactions(
    session: Session,
    columns: Iterable[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    batch_after: int | None = None,
    batch_until: int | None = None,
    profile_ids: Sequence[str] | None = None,
    case_ids: Sequence[str] | None = None,
    with_case: bool = False,
) -> pl.DataFrame:
    """Interactions with ``since < occurred_at <= until``, of load batches in (``batch_after``, ``batch_until``],
    of ``profile_ids`` / ``case_ids`` when given."""
    names = list(dict.fromkeys(["interaction_id", "occurred_at", *columns]))
    table = Interaction.__table__
    base = select(*(table.c[n] for n in names))
    # New batches are found through the batch index alone (a time range would tempt the planner into scanning the
    # whole window); their time window is applied after reading.
    time_in_sql = batch_after is None
    if since is not None and time_in_sql:
        base = base.where(table.c.occurred_at > since)
    if until is not None and time_in_sql:
        base = base.where(table.c.occurred_at <= until)
    if batch_after is not None:
        base = base.where(table.c.batch_id > batch_after)
    if batch_until is not None:
        base = base.where(table.c.batch_id <= batch_until)
    if with_case:
        base = base.where(table.c.case_id.is_not(None))
    restrict = (table.c.profile_id, profile_ids) if profile_ids is not None else (table.c.case_id, case_ids)
    if restrict[1] is None:
        rows = _fetch(session, base)
    else:
        rows = []
        ids = list(dict.fromkeys(restrict[1]))
        for start in range(0, len(ids), ID_CHUNK):
            rows.extend(_fetch(session, base.where(restrict[0].in_(ids[start : start + ID_CHUNK]))))
    frame = _to_frame(rows, names, INTERACTION_DTYPES)
    if not time_in_sql:
        if since is not None:
            frame = frame.filter(pl.col("occurred_at") > since)
        if until is not None:
            frame = frame.filter(pl.col("occurred_at") <= until)
    return frame


def read_touched(
    session: Session,
    columns: Iterable[str],
    key: Literal["profile_id", "case_id"],
    *,
    batch_after: int,
    batch_until: int | None,
    since: datetime,
    until: datetime,
    old_only: bool = False,
) -> pl.DataFrame:
    """Interactions with ``since < occurred_at <= until`` of every customer (``key="profile_id"``) or case
    (``"case_id"``) that has contacts in load batches (``batch_after``, ``batch_until``]; with ``old_only``, only their
    contacts of older batches (the caller has the new ones already).

    The touched ids come through the batch index, the rows through the (profile, time) or case index. SQLite: one
    query with the ids as a subquery (its planner looks each id up in the index). PostgreSQL: the ids first, then the
    rows of ``key = ANY(<one array parameter>)`` — a semi-join with a subquery there can be planned as a nested loop
    over the whole window while the table has no statistics yet (a new store right after its first load).
    """
    names = list(dict.fromkeys(["interaction_id", "occurred_at", *columns, key]))
    table = Interaction.__table__
    touched = select(table.c[key]).where(table.c.batch_id > batch_after, table.c[key].is_not(None), table.c[key] != "")
    if batch_until is not None:
        touched = touched.where(table.c.batch_id <= batch_until)
    if session.get_bind().dialect.name == "postgresql":
        ids = sorted({row[0] for row in _fetch(session, touched)})
        if not ids:
            return _to_frame([], names, INTERACTION_DTYPES)
        of_touched = among(session, table.c[key], ids)
    else:
        of_touched = table.c[key].in_(touched)
    query = select(*(table.c[n] for n in names)).where(
        of_touched, table.c.occurred_at > since, table.c.occurred_at <= until
    )
    if old_only:
        query = query.where(or_(table.c.batch_id <= batch_after, table.c.batch_id.is_(None)))
    return _to_frame(_fetch(session, query), names, INTERACTION_DTYPES)


FACT_DIMENSIONS = ("channel", "stage", "touchpoint", "department", "team", "agent_id")


def read_facts(session: Session, columns: Iterable[str], *, start: date | None, end: date) -> pl.DataFrame:
    """daily_facts rows of days [start, end] (all days up to ``end`` when ``start`` is None)."""
    table = DailyFact.__table__
    wanted = [c for c in dict.fromkeys(["day", *FACT_DIMENSIONS, *columns]) if c in table.c]
    query = select(*(table.c[c] for c in wanted)).where(table.c.day <= end)
    if start is not None:
        query = query.where(table.c.day >= start)
    dtypes: dict[str, Any] = {c: pl.String if c in FACT_DIMENSIONS else pl.Float64 for c in wanted if c != "day"}
    frame = _to_frame(_fetch(session, query), wanted, {**dtypes, "day": pl.String})
    day = frame["day"]
    frame = frame.with_columns(
        (day.str.to_date("%Y-%m-%d") if day.dtype == pl.String else day.cast(pl.Date)).alias("day")
    )
    missing = [c for c in columns if c not in frame.columns]  # KPI columns the store has not got yet count as 0
    return frame.with_columns(pl.lit(0.0).alias(c) for c in missing) if missing else frame
