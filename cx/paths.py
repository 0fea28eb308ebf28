"""Observed journeys: the real sequences customers go through, computed in polars from their interactions.

Input: interactions with at least ``profile_id``, ``occurred_at`` and the step column (``touchpoint``, ``stage``
or ``channel``); ``kind`` and ``nps`` for outcome filters. Everything is vectorised (sorts, shifts, group-bys):
never a Python loop per customer.

Choices (documented here because they change the figures):

- **Consecutive duplicates are collapsed**: three calls in a row about shipping are one step ``shipping``.
  Repeat contacts are a KPI of their own (cx.kpi); left in, they would dominate every path. A return to an
  earlier step after another one is kept: ``shipping → returns → shipping`` has three steps (a loop).
- Rows without a profile or without a step value (e.g. no touchpoint matched) are left out of paths.
- Ties in time are ordered by ``interaction_id`` when present, so results are deterministic.
- **Filters choose customers, journeys stay whole**: the period cuts rows; segment, outcome, channel, stage and
  touchpoint filters keep the customers who have such an interaction in the period, with all their steps.
- Time between steps: from the first interaction of a step to the first interaction of the next step.
- Drop-off after a stage: customers who reached it and had no interaction in any *later* stage afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from cx.access import Principal, require
from cx.errors import ValidationError
from cx.models import Interaction, Profile
from cx.schema import CANONICAL_FIELDS

StepBy = Literal["touchpoint", "stage", "channel", "touchpoint_channel"]
STEP_BY: Final[tuple[str, ...]] = ("touchpoint", "stage", "channel", "touchpoint_channel")
Outcome = Literal["all", "detractors", "promoters", "complainants"]
OUTCOMES: Final[tuple[str, ...]] = ("all", "detractors", "promoters", "complainants")
DETRACTOR_MAX: Final = 6  # NPS 0-6
PROMOTER_MIN: Final = 9  # NPS 9-10
END: Final = "__end__"  # the Sankey node for "left the journey"

_EXTRA_DTYPES: Final[dict[str, pl.DataType | type[pl.DataType]]] = {
    "interaction_id": pl.String,
    "profile_id": pl.String,
    "segment": pl.String,
}


# --------------------------------------------------------------------------------------------- reading


def utc_bounds(start: date | None, end: date | None, timezone: str) -> tuple[datetime | None, datetime | None]:
    """[start 00:00, end+1 00:00) in ``timezone``, as aware UTC datetimes (None stays open)."""
    tz = ZoneInfo(timezone)
    low = datetime.combine(start, time(), tz).astimezone(UTC) if start else None
    high = datetime.combine(end + timedelta(days=1), time(), tz).astimezone(UTC) if end else None
    return low, high


def read_interactions(
    session: Session,
    columns: Sequence[str],
    *,
    start: date | None = None,
    end: date | None = None,
    timezone: str = "UTC",
    segments: Sequence[str] = (),
    with_profile_only: bool = False,
) -> pl.DataFrame:
    """Only ``columns`` of the stored interactions in the period (days in ``timezone``), as a typed frame.

    ``segment`` (from the customer's profile) may be asked for like a column; ``segments`` keeps those customers.
    One parameterised query, the same on SQLite and PostgreSQL.
    """
    table = Interaction.__table__
    profiles = Profile.__table__
    unknown = [c for c in columns if c not in table.c and c != "segment"]
    if unknown:
        raise ValidationError(f"Unknown interaction columns {unknown}")
    selected = [profiles.c.segment if c == "segment" else table.c[c] for c in columns]
    query = select(*selected)
    if "segment" in columns or segments:
        query = query.select_from(table.outerjoin(profiles, profiles.c.profile_id == table.c.profile_id))
    low, high = utc_bounds(start, end, timezone)
    if low is not None:
        query = query.where(table.c.occurred_at >= low)
    if high is not None:
        query = query.where(table.c.occurred_at < high)
    if segments:
        query = query.where(profiles.c.segment.in_(list(segments)))
    if with_profile_only:
        query = query.where(table.c.profile_id.is_not(None))
    schema = {c: _EXTRA_DTYPES.get(c) or CANONICAL_FIELDS[c] for c in columns}
    rows = session.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


#: Columns the observed-journey functions need.
PATH_COLUMNS: Final = ("interaction_id", "profile_id", "occurred_at", "touchpoint", "stage", "channel", "kind", "nps")


# --------------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class PathFilter:
    """Which customers' journeys to look at (period in the store's days; empty tuples mean all)."""

    start: date | None = None
    end: date | None = None
    timezone: str = "UTC"
    outcome: str = "all"
    segments: tuple[str, ...] = field(default_factory=tuple)
    channels: tuple[str, ...] = field(default_factory=tuple)
    stages: tuple[str, ...] = field(default_factory=tuple)
    touchpoints: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValidationError(f"Unknown outcome {self.outcome!r}; use one of {', '.join(OUTCOMES)}")


def filter_period(lf: pl.LazyFrame, start: date | None, end: date | None, timezone: str = "UTC") -> pl.LazyFrame:
    """Rows whose ``occurred_at`` falls on the days [start, end] in ``timezone``."""
    low, high = utc_bounds(start, end, timezone)
    if low is not None:
        lf = lf.filter(pl.col("occurred_at") >= low)
    if high is not None:
        lf = lf.filter(pl.col("occurred_at") < high)
    return lf


def _customers_where(lf: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
    chosen = lf.filter(condition.fill_null(False)).select("profile_id").unique()
    return lf.join(chosen, on="profile_id", how="semi")


def filter_outcome(lf: pl.LazyFrame, outcome: str) -> pl.LazyFrame:
    """Keep the customers with the outcome: detractors (an NPS 0-6), promoters (NPS 9-10), complainants."""
    if outcome == "all":
        return lf
    if outcome == "detractors":
        return _customers_where(lf, pl.col("nps") <= DETRACTOR_MAX)
    if outcome == "promoters":
        return _customers_where(lf, pl.col("nps") >= PROMOTER_MIN)
    if outcome == "complainants":
        return _customers_where(lf, pl.col("kind") == "complaint")
    raise ValidationError(f"Unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")


def apply_filter(lf: pl.LazyFrame, chosen: PathFilter) -> pl.LazyFrame:
    """Period on rows; segment, outcome, channel, stage and touchpoint filters on customers (journeys stay whole)."""
    lf = filter_period(lf, chosen.start, chosen.end, chosen.timezone).filter(pl.col("profile_id").is_not_null())
    if chosen.segments:
        lf = _customers_where(lf, pl.col("segment").is_in(list(chosen.segments)))
    for column, values in (("channel", chosen.channels), ("stage", chosen.stages), ("touchpoint", chosen.touchpoints)):
        if values:
            lf = _customers_where(lf, pl.col(column).is_in(list(values)))
    return filter_outcome(lf, chosen.outcome)


# --------------------------------------------------------------------------------------------- sequences


def step_expr(by: str) -> pl.Expr:
    """The step a row stands for: its touchpoint, stage, channel, or ``touchpoint·channel``."""
    if by not in STEP_BY:
        raise ValidationError(f"Unknown step {by!r}; use one of {', '.join(STEP_BY)}")
    if by == "touchpoint_channel":
        return pl.concat_str([pl.col("touchpoint"), pl.col("channel")], separator="·")
    return pl.col(by).cast(pl.String)


def _id_hash(ids: pl.Expr) -> pl.Expr:
    return ids.hash(7)


def prepare(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Rows with a profile, ordered customer by customer and in time, numbered ``cust`` (0, 1, ... per customer).

    Sorting 1M string ids is the expensive part, so rows are sorted by a 64-bit hash of the profile id (then time,
    then ``interaction_id`` when present). Should two ids share a hash, their rows would interleave: that is
    detected (more id changes than hash changes) and the rows are then sorted by the id itself as well, so the
    result is always exact. Every function below works on this order; :func:`observe` prepares once.
    """
    tie = ["interaction_id"] if "interaction_id" in lf.collect_schema().names() else []
    hashed = lf.filter(pl.col("profile_id").is_not_null()).with_columns(__hash=_id_hash(pl.col("profile_id")))
    ordered = hashed.sort(["__hash", "occurred_at", *tie]).collect()
    changes = ordered.select(
        ids=(pl.col("profile_id") != pl.col("profile_id").shift(1)).sum(),
        hashes=(pl.col("__hash") != pl.col("__hash").shift(1)).sum(),
    ).row(0)
    if changes[0] != changes[1]:  # a hash collision: sort by the id too (never seen in practice)
        ordered = ordered.sort(["__hash", "profile_id", "occurred_at", *tie])
    new_customer = (pl.col("profile_id") != pl.col("profile_id").shift(1)).fill_null(True)
    return ordered.lazy().with_columns(cust=(new_customer.cum_sum() - 1).cast(pl.UInt32).set_sorted()).drop("__hash")


def _collapsed(prepared: pl.LazyFrame, by: str) -> pl.LazyFrame:
    new_customer = pl.col("cust") != pl.col("cust").shift(1)
    new_step = pl.col("step") != pl.col("step").shift(1)
    return (
        prepared.select("cust", "profile_id", step_expr(by).alias("step"), pl.col("occurred_at").alias("at"))
        .filter(pl.col("step").is_not_null())
        .filter((new_customer | new_step).fill_null(True))
        .with_row_index("__row")
        .with_columns(  # position within the customer's steps, without a group-by: rows are sorted by customer
            step_no=(
                pl.col("__row")
                - pl.when(new_customer.fill_null(True)).then(pl.col("__row")).otherwise(None).forward_fill()
                + 1
            ).cast(pl.Int32)
        )
        .drop("__row")
    )


def collapsed_steps(lf: pl.LazyFrame, by: str = "touchpoint") -> pl.LazyFrame:
    """One row per step of each customer: consecutive rows with the same step collapsed to their first row.

    Columns: cust, profile_id, step, at (first interaction of the step), step_no (1, 2, ...).
    """
    return _collapsed(prepare(lf), by)


def _sequences(steps: pl.LazyFrame) -> pl.LazyFrame:
    return steps.group_by("cust").agg(
        pl.col("profile_id").first(),
        steps=pl.col("step"),
        n_steps=pl.len().cast(pl.Int32),
        first_at=pl.col("at").min(),
        last_at=pl.col("at").max(),
    )


def sequences(lf: pl.LazyFrame, by: str = "touchpoint") -> pl.LazyFrame:
    """One row per customer: ``steps`` (list, duplicates collapsed), ``n_steps``, ``first_at``, ``last_at``."""
    return _sequences(collapsed_steps(lf, by)).drop("cust")


def _top_paths(steps: pl.DataFrame, top_n: int, max_steps: int, min_steps: int = 1) -> pl.DataFrame:
    if top_n < 1 or max_steps < 1 or not 1 <= min_steps <= max_steps:
        raise ValidationError("top_n and max_steps must be at least 1, and min_steps between 1 and max_steps")
    # steps as small integer codes: grouping lists of u16 is much cheaper than lists of strings
    vocabulary = steps.get_column("step").unique().sort()
    per_customer = (
        steps.lazy()
        .filter(pl.col("step_no") <= max_steps + 1)  # one more step tells whether the path was cut
        .with_columns(
            code=pl.col("step").replace_strict(vocabulary, list(range(vocabulary.len())), return_dtype=pl.UInt16)
        )
        .group_by("cust")
        .agg(codes=pl.col("code").head(max_steps), complete=pl.len() <= max_steps, n=pl.len())
        .filter(pl.col("n") >= min_steps)
    )
    counted = (
        per_customer.group_by("codes", "complete")
        .agg(customers=pl.len().cast(pl.Int64))
        .with_columns(share=pl.col("customers") / pl.col("customers").sum())
        .collect()
    )
    decoded = counted.with_columns(
        path=pl.col("codes").list.eval(pl.element().replace_strict(list(range(vocabulary.len())), vocabulary))
    )
    return (
        decoded.sort(["customers", "path"], descending=[True, False])
        .head(top_n)
        .select("path", "customers", "share", "complete")
    )


def top_paths(
    lf: pl.LazyFrame, by: str = "touchpoint", *, top_n: int = 10, max_steps: int = 6, min_steps: int = 1
) -> pl.DataFrame:
    """The ``top_n`` most frequent paths (first ``max_steps`` steps) of customers with at least ``min_steps`` steps.

    Columns: path (list), customers, share (0..1 of those customers), complete (False when cut at max_steps).
    """
    return _top_paths(collapsed_steps(lf, by).collect(), top_n, max_steps, min_steps)


@dataclass(frozen=True)
class SankeyData:
    """Nodes and links for a Plotly Sankey: node i is ``steps[i]`` at column ``columns[i]`` (0 = first step)."""

    steps: list[str]
    columns: list[int]
    sources: list[int]
    targets: list[int]
    values: list[int]
    customers: int  # customers in the top paths shown
    total_customers: int  # customers with at least min_steps steps

    @property
    def empty(self) -> bool:
        return not self.values


def _sankey(paths: pl.DataFrame, total: int, max_steps: int) -> SankeyData:
    if paths.is_empty():
        return SankeyData([], [], [], [], [], 0, total)
    exploded = (
        paths.with_row_index("path_id")
        .with_columns(
            steps=pl.when(pl.col("complete")).then(pl.col("path").list.concat(pl.lit([END]))).otherwise(pl.col("path"))
        )
        .with_columns(column=pl.int_ranges(pl.col("steps").list.len()))
        .explode("steps", "column")
        .rename({"steps": "step"})
    )
    links = (
        exploded.with_columns(
            next_step=pl.col("step").shift(-1).over("path_id"),
            next_column=pl.col("column").shift(-1).over("path_id"),
        )
        .filter(pl.col("next_step").is_not_null())
        .with_columns(next_column=pl.when(pl.col("next_step") == END).then(max_steps).otherwise(pl.col("next_column")))
        .group_by("column", "step", "next_column", "next_step")
        .agg(value=pl.col("customers").sum())
    )
    nodes = (
        pl.concat(
            [
                links.select("column", "step"),
                links.select(pl.col("next_column").alias("column"), pl.col("next_step").alias("step")),
            ]
        )
        .unique()
        .sort("column", "step")
        .with_row_index("node")
    )
    joined = (
        links.join(nodes.rename({"node": "source"}), on=["column", "step"])
        .join(
            nodes.rename({"node": "target", "column": "next_column", "step": "next_step"}),
            on=["next_column", "next_step"],
        )
        .sort("source", "target")
    )
    return SankeyData(
        steps=nodes["step"].to_list(),
        columns=nodes["column"].to_list(),
        sources=joined["source"].to_list(),
        targets=joined["target"].to_list(),
        values=joined["value"].to_list(),
        customers=int(paths["customers"].sum()),
        total_customers=total,
    )


def _with_steps(steps: pl.DataFrame, min_steps: int) -> int:
    """Customers with at least ``min_steps`` steps."""
    return int(steps.filter(pl.col("step_no") == min_steps).height)


def sankey_links(
    lf: pl.LazyFrame, by: str = "touchpoint", *, top_n: int = 10, max_steps: int = 6, min_steps: int = 1
) -> SankeyData:
    """Links step i -> step i+1 of the top paths, weighted by customers (loops and one-step paths included).

    A node is a (column, step) pair, so a loop back to an earlier step goes forward to a later column and the
    diagram stays acyclic. A path that ends within ``max_steps`` gets a last link to the END node (left the
    journey; END sits in column ``max_steps``); a one-step customer is exactly such a link.
    """
    steps = collapsed_steps(lf, by).collect()
    return _sankey(_top_paths(steps, top_n, max_steps, min_steps), _with_steps(steps, min_steps), max_steps)


# --------------------------------------------------------------------------------------------- stages, switches, times


def _stage_reach(prepared: pl.LazyFrame, stage_order: Sequence[str]) -> pl.DataFrame:
    order = list(stage_order)
    base = pl.DataFrame({"stage": order, "position": list(range(1, len(order) + 1))})
    if not order:
        return base.with_columns(
            [pl.lit(0, pl.Int64).alias(c) for c in ("customers", "continued", "dropped")]
            + [pl.lit(None, pl.Float64).alias(c) for c in ("drop_off_rate", "reach_rate")]
        )
    at = pl.col("occurred_at")
    # one row per customer, first and last time in each stage as columns (no sort: a group-by on the sorted id)
    wide = (
        prepared.filter(pl.col("stage").is_in(order))
        .group_by("cust")
        .agg(
            *[at.filter(pl.col("stage") == s).min().alias(f"first_{i}") for i, s in enumerate(order)],
            *[at.filter(pl.col("stage") == s).max().alias(f"last_{i}") for i, s in enumerate(order)],
        )
    )
    later_last = [
        pl.max_horizontal([pl.col(f"last_{j}") for j in range(i + 1, len(order))]) for i in range(len(order) - 1)
    ]
    counts = wide.select(
        pl.len().alias("all"),
        *[pl.col(f"first_{i}").is_not_null().sum().alias(f"reached_{i}") for i in range(len(order))],
        *[(later_last[i] > pl.col(f"first_{i}")).fill_null(False).sum().alias(f"continued_{i}") for i in range(len(order) - 1)],
    ).collect().row(0, named=True)  # fmt: skip
    customers = counts["all"]
    reached = [counts[f"reached_{i}"] for i in range(len(order))]
    continued = [counts.get(f"continued_{i}", 0) for i in range(len(order))]
    return base.with_columns(
        customers=pl.Series(reached, dtype=pl.Int64),
        continued=pl.Series(continued, dtype=pl.Int64),
    ).with_columns(
        dropped=pl.col("customers") - pl.col("continued"),
        drop_off_rate=pl.when((pl.col("position") == len(order)) | (pl.col("customers") == 0))
        .then(None)
        .otherwise((pl.col("customers") - pl.col("continued")) / pl.col("customers")),
        reach_rate=(pl.col("customers") / customers) if customers else pl.lit(None, dtype=pl.Float64),
    )


def stage_reach(lf: pl.LazyFrame, stage_order: Sequence[str]) -> pl.DataFrame:
    """Per stage (in journey order): customers reaching it, those who went on to a later stage, drop-off.

    Columns: stage, position (1..), customers, continued, dropped, drop_off_rate (0..1; null for the last stage,
    after which there is nowhere to go), reach_rate (share of all customers with any stage).
    """
    return _stage_reach(prepare(lf), stage_order)


def _channel_switches(prepared: pl.LazyFrame, within: timedelta, top_n: int) -> pl.DataFrame:
    same_customer = pl.col("cust") == pl.col("cust").shift(1)
    gap = (pl.col("occurred_at") - pl.col("occurred_at").shift(1)).dt.total_seconds(fractional=True)
    return (
        prepared.filter(pl.col("channel").is_not_null())
        .select(
            "cust",
            "channel",
            from_channel=pl.col("channel").shift(1),
            gap_s=gap,
            same=same_customer.fill_null(False),
        )
        .filter(
            pl.col("same") & (pl.col("from_channel") != pl.col("channel")) & (pl.col("gap_s") <= within.total_seconds())
        )
        .group_by("from_channel", pl.col("channel").alias("to_channel"))
        .agg(
            switches=pl.len().cast(pl.Int64),
            customers=pl.col("cust").n_unique().cast(pl.Int64),
            median_gap_s=pl.col("gap_s").median(),
        )
        .sort(["switches", "from_channel", "to_channel"], descending=[True, False, False])
        .head(top_n)
        .collect()
    )


def channel_switches(lf: pl.LazyFrame, *, within: timedelta = timedelta(hours=24), top_n: int = 20) -> pl.DataFrame:
    """Consecutive contacts of one customer on different channels within ``within`` (e.g. app -> phone in 24 h).

    Columns: from_channel, to_channel, switches, customers, median_gap_s; most frequent first.
    """
    return _channel_switches(prepare(lf), within, top_n)


def _step_times(steps: pl.LazyFrame, top_n: int) -> pl.DataFrame:
    pairs = steps.select(
        from_step=pl.col("step").shift(1),
        to_step=pl.col("step"),
        gap_s=(pl.col("at") - pl.col("at").shift(1)).dt.total_seconds(fractional=True),
        same=(pl.col("cust") == pl.col("cust").shift(1)).fill_null(False),
    ).filter(pl.col("same"))
    stats = [
        pl.len().cast(pl.Int64).alias("transitions"),
        pl.col("gap_s").median().alias("median_s"),
        pl.col("gap_s").quantile(0.9, interpolation="linear").alias("p90_s"),
    ]
    overall = pairs.select(pl.lit("*").alias("from_step"), pl.lit("*").alias("to_step"), *stats)
    per_pair = (
        pairs.group_by("from_step", "to_step")
        .agg(*stats)
        .sort(["transitions", "from_step", "to_step"], descending=[True, False, False])
        .head(top_n)
    )
    return pl.concat([overall, per_pair]).collect().filter(pl.col("transitions") > 0)


def step_times(lf: pl.LazyFrame, by: str = "touchpoint", *, top_n: int = 20) -> pl.DataFrame:
    """Time from one step to the next (collapsed sequences): per transition and overall (from_step ``*``).

    Columns: from_step, to_step, transitions, median_s, p90_s; the overall row first, then the busiest transitions.
    """
    return _step_times(collapsed_steps(lf, by), top_n)


@dataclass(frozen=True)
class ObservedJourneys:
    """Everything the "Observed journeys" tab shows, for one filter."""

    customers: int
    interactions: int
    sankey: SankeyData
    paths: pl.DataFrame
    reach: pl.DataFrame
    switches: pl.DataFrame
    times: pl.DataFrame


def observe(
    lf: pl.LazyFrame,
    stage_order: Sequence[str],
    chosen: PathFilter,
    *,
    by: str = "touchpoint",
    top_n: int = 10,
    max_steps: int = 6,
    min_steps: int = 1,
    within: timedelta = timedelta(hours=24),
) -> ObservedJourneys:
    """All observed-journey figures for the customers ``chosen`` selects: filtered, sorted and collapsed once."""
    present = lf.collect_schema().names()
    lf = lf.select([c for c in (*PATH_COLUMNS, "segment") if c in present])  # never carry text & co. through the sort
    prepared = prepare(apply_filter(lf, chosen)).collect()
    steps = _collapsed(prepared.lazy(), by).collect()
    top = _top_paths(steps, top_n, max_steps, min_steps)
    customers = int(prepared.get_column("cust").max() + 1) if prepared.height else 0  # type: ignore[operator]
    return ObservedJourneys(
        customers=customers,
        interactions=prepared.height,
        sankey=_sankey(top, _with_steps(steps, min_steps), max_steps),
        paths=top,
        reach=_stage_reach(prepared.lazy(), stage_order),
        switches=_channel_switches(prepared.lazy(), within, 20),
        times=_step_times(steps.lazy(), 20),
    )


def observe_stored(
    session: Session,
    principal: Principal | None,
    stage_order: Sequence[str],
    chosen: PathFilter,
    *,
    by: str = "touchpoint",
    top_n: int = 10,
    max_steps: int = 6,
    min_steps: int = 1,
) -> ObservedJourneys:
    """:func:`observe` over the stored interactions of the period (only the needed columns are read;
    ``journey.view``)."""
    require(principal, "journey.view")
    columns = [*PATH_COLUMNS, "segment"] if chosen.segments else list(PATH_COLUMNS)
    frame = read_interactions(
        session,
        columns,
        start=chosen.start,
        end=chosen.end,
        timezone=chosen.timezone,
        segments=chosen.segments,
        with_profile_only=True,
    )
    return observe(frame.lazy(), stage_order, chosen, by=by, top_n=top_n, max_steps=max_steps, min_steps=min_steps)
