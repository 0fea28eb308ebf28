"""Incremental runs: which stored records a batch can change, and the daily facts updated by difference.

A batch changes the daily facts of a record when the record is new or re-loaded, when its profile changes (moved,
merged, split) or its profile's segment changes — and, through the measures that look at other records, of every
record of the same customer (repeat contacts and first-contact resolution per customer + touchpoint, active spells
for retention) and of the same case (repeat contacts, FCR, backlog, SLA). A later ``as_of`` also changes the SLA
verdict of recent open cases and the lapse of customers whose last contact was ``active_window_days`` ago.

:func:`affected_records` closes the seed profiles and cases under "same customer" (before and after the batch)
and "same case", and returns those records as they were and as they will be. That set holds every record of its
customers, so ``etl.aggregate.daily_facts`` over it gives exactly its share of every measure (the distinct
``customers`` count too: the other records belong to other customers). The stored facts are then updated by
difference (:func:`facts_delta`, :func:`apply_delta`): new = stored − share before + share after, which equals a
full rebuild. Stored facts that would turn negative were not built from the stored records (an older version, a
changed journey map): :func:`apply_delta` raises :class:`FactsOutOfStep` and the caller rebuilds every fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine

from cx.models import DailyFact, Interaction
from etl import aggregate, load

INTERACTIONS: Final = Interaction.__table__
#: Stored columns etl.aggregate.daily_facts reads.
FACT_INPUT_COLUMNS: Final = (
    "interaction_id",
    "occurred_at",
    "profile_id",
    "channel",
    "stage",
    "touchpoint",
    "team",
    "agent_id",
    "direction",
    "kind",
    "case_id",
    "queue_wait_s",
    "first_response_s",
    "handle_s",
    "abandoned",
    "resolved",
    "nps",
    "csat",
    "ces",
)
#: Measures of which at least one is positive on every fact row a full rebuild writes.
EXISTENCE: Final = ("interactions", "cases_opened", "cases_resolved", "customers_gained", "customers_lost")
_KEY: Final = list(aggregate.KEY)


class FactsOutOfStep(Exception):
    """The stored daily facts do not match the stored records: rebuild them all."""


@dataclass(frozen=True)
class Affected:
    """The records whose share of the daily facts a batch can change, before and after it."""

    before: pl.DataFrame  # stored records (FACT_INPUT_COLUMNS), stored profile ids
    after: pl.DataFrame  # the same records without the re-loaded ones, plus the batch, with their new profile ids
    profiles: frozenset[str]  # profile ids (old and new) of those records


def _ids(values: Iterable[object]) -> set[str]:
    return {str(v) for v in values if v is not None and v != ""}


def _series(values: Iterable[object]) -> pl.Series:
    """Distinct non-empty ids as a String series."""
    return pl.Series(sorted(_ids(values)), dtype=pl.String)


def affected_records(
    engine: Engine,
    *,
    batch: pl.DataFrame,
    assigned: pl.DataFrame,
    loaded: pl.DataFrame,
    loaded_profiles: Iterable[str],
    seed_profiles: Iterable[str],
    seed_cases: Iterable[str] = (),
) -> Affected:
    """Close the seeds under "same customer" (stored and new profile ids) and "same case".

    ``batch``: the new records (FACT_INPUT_COLUMNS, profile_id = the new one). ``assigned``: interaction_id ->
    new profile_id of every record the identity step re-decided. ``loaded``: stored records already read
    (FACT_INPUT_COLUMNS), holding every record of ``loaded_profiles``. Seeds: profile ids whose records change,
    case ids whose records change. Records are read by profile and by case id (both indexed).
    """
    columns = list(FACT_INPUT_COLUMNS)
    known = loaded.select(columns)
    have_profiles = _series(loaded_profiles)
    have_cases = _series(())
    profiles = pl.concat([_series(seed_profiles), batch.get_column("profile_id").cast(pl.String)])
    profiles = profiles.drop_nulls().unique()
    cases = pl.concat([_series(seed_cases), batch.get_column("case_id").cast(pl.String)]).drop_nulls().unique()
    new_id = assigned.select("interaction_id", pl.col("profile_id").alias("_new"))
    while True:
        frames = [known]
        missing_profiles = profiles.filter(~profiles.is_in(have_profiles.implode()))
        if missing_profiles.len():
            frames.append(load.read_keyed(engine, INTERACTIONS, columns, "profile_id", missing_profiles))
            have_profiles = pl.concat([have_profiles, missing_profiles])
        missing_cases = cases.filter(~cases.is_in(have_cases.implode()))
        if missing_cases.len():
            frames.append(load.read_keyed(engine, INTERACTIONS, columns, "case_id", missing_cases))
            have_cases = pl.concat([have_cases, missing_cases])
        if len(frames) > 1:
            known = pl.concat(frames, how="vertical_relaxed").unique("interaction_id", keep="first")
        rows = known.join(new_id, on="interaction_id", how="left").with_columns(
            pl.coalesce("_new", "profile_id").alias("_new")
        )
        inside = rows.filter(
            pl.col("profile_id").is_in(profiles.implode())
            | pl.col("_new").is_in(profiles.implode())
            | pl.col("case_id").is_in(cases.implode())
        )
        grown_profiles = pl.concat([profiles, inside.get_column("profile_id"), inside.get_column("_new")])
        grown_profiles = grown_profiles.drop_nulls().unique()
        grown_cases = pl.concat([cases, inside.get_column("case_id")]).drop_nulls().unique()
        if grown_profiles.len() == profiles.len() and grown_cases.len() == cases.len():
            break
        profiles, cases = grown_profiles, grown_cases
    before = inside.select(columns)
    after = pl.concat(
        [
            inside.join(batch.select("interaction_id"), on="interaction_id", how="anti")
            .drop("profile_id")
            .rename({"_new": "profile_id"})
            .select(columns),
            batch.select(columns),
        ],
        how="vertical_relaxed",
    )
    return Affected(before=before, after=after, profiles=frozenset(profiles.to_list()))


def as_of_seeds(
    engine: Engine, before: datetime | None, after: datetime | None, *, timezone: str
) -> tuple[set[str], set[str]]:
    """(profiles, cases) whose facts change only because ``as_of`` moves from ``before`` to ``after``.

    Cases: opened within ``case_sla_hours`` before the new or old as_of (their SLA verdict may flip). Profiles: a
    spell of activity whose lapse day (last active local day + ``active_window_days``) falls between the two
    as_of days.
    """
    if before is None or after is None or before == after:
        return set(), set()
    low, high = min(before, after), max(before, after)
    sla = timedelta(hours=aggregate.CASE_SLA_HOURS)
    margin = timedelta(days=1)
    cases = load.read_frame(
        engine,
        'SELECT DISTINCT "case_id" FROM "interactions" WHERE "occurred_at" > ? AND "occurred_at" <= ? '
        'AND "case_id" IS NOT NULL',
        [low - sla - margin, high - sla + margin],
    )
    zone = ZoneInfo(timezone)
    window = aggregate.ACTIVE_WINDOW_DAYS
    low_day, high_day = low.astimezone(zone).date(), high.astimezone(zone).date()
    # spell ends L with low_day < L + window <= high_day, read with a day of margin on both sides
    first, last = low_day - timedelta(days=window - 1), high_day - timedelta(days=window)
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC) - margin
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC) + margin
    active = '("direction" IS NULL OR "direction" <> \'outbound\') AND "profile_id" IS NOT NULL'
    candidates = load.read_frame(
        engine,
        f'SELECT DISTINCT "profile_id" FROM "interactions" WHERE "occurred_at" >= ? AND "occurred_at" < ? AND {active}',
        [start, end],
    ).get_column("profile_id")
    profiles: set[str] = set()
    if candidates.len():
        # their active records from the window until a full active window after it: is a record in the window
        # the last of its spell (no active record within `window` days after it)?
        rows = load.read_keyed(
            engine, INTERACTIONS, ("profile_id", "occurred_at", "direction"), "profile_id", candidates
        ).filter(
            (pl.col("direction").fill_null("") != "outbound")
            & (pl.col("occurred_at") >= start)
            & (pl.col("occurred_at") < end + timedelta(days=window + 2))
        )
        days = (
            rows.select("profile_id", pl.col("occurred_at").dt.convert_time_zone(timezone).dt.date().alias("day"))
            .unique()
            .sort("profile_id", "day")
        )
        following = pl.col("day").shift(-1).over("profile_id")
        ends = days.filter(
            (following.is_null() | ((following - pl.col("day")).dt.total_days() >= window))
            & (pl.col("day") >= first)
            & (pl.col("day") <= last)
        )
        profiles = _ids(ends.get_column("profile_id"))
    return profiles, _ids(cases.get_column("case_id")) if cases.width else set()


def _facts(
    rows: pl.DataFrame,
    segments: pl.DataFrame,
    *,
    timezone: str,
    departments: Mapping[str, str],
    as_of: datetime | None,
) -> pl.DataFrame:
    frame = rows.lazy().join(segments.lazy(), on="profile_id", how="left")
    return aggregate.daily_facts(frame, timezone=timezone, touchpoint_departments=departments, as_of=as_of).collect()


def facts_delta(
    affected: Affected,
    *,
    segments_before: pl.DataFrame,
    segments_after: pl.DataFrame,
    timezone: str,
    departments: Mapping[str, str],
    as_of_before: datetime | None,
    as_of_after: datetime | None,
) -> pl.DataFrame:
    """Per fact key: the affected records' share after minus their share before (rows where nothing changes are
    left out). ``segments_*``: profile_id -> segment of the profiles before and after the batch."""
    kwargs = {"timezone": timezone, "departments": departments}
    old = _facts(affected.before, segments_before, as_of=as_of_before, **kwargs)  # type: ignore[arg-type]
    new = _facts(affected.after, segments_after, as_of=as_of_after, **kwargs)  # type: ignore[arg-type]
    measures = list(aggregate.MEASURES)
    joined = new.join(old, on=_KEY, how="full", coalesce=True, suffix="_old")
    delta = joined.select(
        *_KEY, *((pl.col(m).fill_null(0) - pl.col(f"{m}_old").fill_null(0)).alias(m) for m in measures)
    )
    return delta.filter(pl.any_horizontal(pl.col(m) != 0 for m in measures))


def apply_delta(stored: pl.DataFrame, delta: pl.DataFrame) -> pl.DataFrame:
    """The fact rows that replace ``stored`` (the stored rows of the delta's keys, with ``id``): stored + delta,
    without rows a full rebuild would not write. Raises FactsOutOfStep when a count would turn negative."""
    measures = list(aggregate.MEASURES)
    floats = set(aggregate.FLOAT_MEASURES)
    merged = delta.join(stored.drop("id", strict=False), on=_KEY, how="left", suffix="_stored").select(
        *_KEY, *((pl.col(f"{m}_stored").fill_null(0) + pl.col(m)).alias(m) for m in measures)
    )
    counts = [m for m in measures if m not in floats]
    negative = merged.filter(pl.any_horizontal(pl.col(m) < 0 for m in counts))
    if negative.height:
        raise FactsOutOfStep(f"{negative.height} daily fact rows would turn negative")
    exists = pl.any_horizontal(pl.col(m) > 0 for m in EXISTENCE)
    empty = pl.col("interactions") == 0  # sums over no records are exactly zero
    return (
        merged.filter(exists)
        .with_columns(pl.when(empty).then(0.0).otherwise(pl.col(m)).alias(m) for m in sorted(floats))
        .with_columns(
            *(pl.col(m).cast(pl.Float64 if m in floats else pl.Int64) for m in measures),
            pl.col("day").cast(pl.Date),
        )
        .select(list(aggregate.COLUMNS))
    )


def stored_facts(engine: Engine, keys: pl.DataFrame) -> pl.DataFrame:
    """The stored daily_facts rows (with ``id``) of these keys (day + dimensions)."""
    table = DailyFact.__table__
    columns = ("id", *aggregate.COLUMNS)
    return load.read_matching(engine, table, columns, keys.select(_KEY))


def local_day(ts: datetime, timezone: str) -> date:
    return ts.astimezone(ZoneInfo(timezone)).date()


__all__ = [
    "EXISTENCE",
    "FACT_INPUT_COLUMNS",
    "Affected",
    "FactsOutOfStep",
    "affected_records",
    "apply_delta",
    "as_of_seeds",
    "facts_delta",
    "stored_facts",
]
