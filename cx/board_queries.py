"""The KPI board's data: tiles (period, previous period, MoM, YoY, sparkline), trends, breakdowns, "what moved"
and the drill-down rows behind a chart element.

Everything except the drill-down reads ``daily_facts`` (summed in SQL, so only a few hundred rows leave the store)
and computes each KPI with cx.kpi — the same definitions the alert engine and the benchmarks use. The drill-down
reads the interactions of one slice, at most ``limit`` rows, with personal data masked for the viewer's role.

Filters: date range, channel, stage, touchpoint and segment all apply to tiles, trends and breakdowns (segment is a
daily_facts dimension filled from ``profiles.segment`` by the ETL) and to the drill-down (there via ``profiles``).

Authorisation: every public function takes the ``principal`` and checks it first (cx.boards.authorize_scope: board.view
and the right to the scope; kpi.agent_level for figures per agent), deny by default, refusals audited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cx import audit, fact_cache, kpi
from cx.access import Principal, mask_value
from cx.authz import record_denied, require_audited
from cx.boards import BREAKDOWNS, Board, BoardScope, Status, authorize_scope, status
from cx.errors import PermissionDenied, ValidationError
from cx.filters import Filters
from cx.journey import JourneyModel
from cx.journey_store import load_journey
from cx.models import Interaction, Profile

DRILL_LIMIT: Final = 200
#: Drill-down: interactions that feed each KPI (rows that cannot move it are left out of "the interactions behind").
KPI_ROWS: Final[dict[str, Any]] = {
    "nps": Interaction.nps.is_not(None),
    "csat": Interaction.csat.is_not(None),
    "ces": Interaction.ces.is_not(None),
    "ces_agree_rate": Interaction.ces.is_not(None),
    "fcr": Interaction.resolved.is_not(None),
    "frt": Interaction.first_response_s.is_not(None),
    "aht": Interaction.handle_s.is_not(None),
    "asa": Interaction.queue_wait_s.is_not(None),
    "abandonment": Interaction.abandoned.is_not(None),
    "abandonment_adjusted": Interaction.abandoned.is_not(None),
    "service_level": Interaction.queue_wait_s.is_not(None),
    "complaint_rate": Interaction.kind == "complaint",
    "complaint_volume": Interaction.kind == "complaint",
    "backlog": Interaction.case_id.is_not(None),
    "sla_breach_rate": Interaction.case_id.is_not(None),
}
DRILL_COLUMNS: Final = (
    "occurred_at",
    "channel",
    "stage",
    "touchpoint",
    "kind",
    "team",
    "agent_id",
    "case_id",
    "profile_id",
    "name",
    "phone",
    "email",
    "nps",
    "csat",
    "ces",
    "queue_wait_s",
    "handle_s",
    "abandoned",
    "resolved",
    "text",
)


@dataclass(frozen=True)
class TileValue:
    """A tile's figures: the value for the period and the same KPI for the comparison periods."""

    kpi: str
    value: float | None
    previous: float | None
    mom: float | None
    yoy: float | None
    target: float | None
    status: Status
    spark_days: tuple[date, ...]
    spark_values: tuple[float | None, ...]

    @staticmethod
    def _delta(now: float | None, then: float | None) -> float | None:
        return None if now is None or then is None else now - then

    @property
    def change(self) -> float | None:
        """Change vs the previous period, in the KPI's unit (points for percentages and scores)."""
        return self._delta(self.value, self.previous)

    @property
    def mom_change(self) -> float | None:
        return self._delta(self.value, self.mom)

    @property
    def yoy_change(self) -> float | None:
        return self._delta(self.value, self.yoy)


# --------------------------------------------------------------------------------------------- SQL over daily facts


def _scoped(session: Session, scope: BoardScope, filters: Filters) -> pl.LazyFrame:
    """The daily facts of the board's scope and the filter's dimensions (all days), from the in-memory copy."""
    frame = fact_cache.facts(session).lazy()
    conditions = []
    if scope.department:
        conditions.append(pl.col("department") == scope.department)
    if scope.team:
        conditions.append(pl.col("team") == scope.team)
    for column, values in (
        ("channel", filters.channels),
        ("stage", filters.stages),
        ("touchpoint", filters.touchpoints),
        ("segment", filters.segments),
    ):
        if values:
            conditions.append(pl.col(column).is_in(list(values)))
    return frame.filter(*conditions) if conditions else frame


def _stock_columns(keys: Sequence[str]) -> list[str]:
    """Columns of the cumulative KPIs among ``keys`` (they need the sums of every earlier day)."""
    return list(dict.fromkeys(c for k in keys if kpi.get(k).cumulative for c in kpi.get(k).columns))


def _in_windows(windows: Sequence[Filters]) -> pl.Expr:
    return pl.any_horizontal(pl.col("day").is_between(w.start, w.end) for w in windows)


def _daily_sums(
    session: Session, scope: BoardScope, filters: Filters, keys: Sequence[str], windows: Sequence[Filters]
) -> pl.DataFrame:
    """Per-day sums of the columns ``keys`` need, for the days of ``windows`` only."""
    columns = kpi.needed_columns(keys)
    return (
        _scoped(session, scope, filters)
        .filter(_in_windows(windows))
        .group_by("day")
        .agg(pl.col(c).sum().cast(pl.Float64) for c in columns)
        .sort("day")
        .collect()
    )


def _openings(
    session: Session, scope: BoardScope, filters: Filters, keys: Sequence[str], starts: Sequence[date]
) -> dict[date, dict[str, float]]:
    """For cumulative KPIs: each stock column summed over every day before each of ``starts``."""
    columns = _stock_columns(keys)
    starts = sorted(set(starts))
    if not columns or not starts:
        return {start: {} for start in starts}
    row = (
        _scoped(session, scope, filters)
        .select(
            pl.col(c).filter(pl.col("day") < start).sum().cast(pl.Float64).alias(f"{c}@{i}")
            for i, start in enumerate(starts)
            for c in columns
        )
        .collect()
        .row(0)
    )
    values = iter(row)
    return {start: {c: float(next(values) or 0) for c in columns} for start in starts}


def _window(daily: pl.DataFrame, opening: Mapping[str, float], window: Filters) -> pl.LazyFrame:
    """The daily sums of one window, preceded by a row the day before carrying the opening stock."""
    rows = daily.filter(pl.col("day").is_between(window.start, window.end))
    if not opening:
        return rows.lazy()
    first = pl.DataFrame(
        {"day": [window.start - timedelta(days=1)]} | {c: [float(opening.get(c, 0.0))] for c in daily.columns[1:]},
        schema=daily.schema,
    )
    return pl.concat([first, rows]).lazy()


def spark_grain(filters: Filters) -> str:
    """Daily buckets up to two months, weekly up to a year, monthly beyond."""
    return "1d" if filters.days <= 62 else ("1w" if filters.days <= 366 else "1mo")


def board_tiles(
    session: Session, principal: Principal, scope: BoardScope, filters: Filters, board: Board
) -> list[TileValue]:
    """Every tile of ``board``: value, previous period, same range a month and a year earlier, status, sparkline.

    Reads only the days of those four ranges (plus, for stocks such as the backlog, the sums of the earlier days).
    """
    authorize_scope(session, principal, scope)
    keys = board.kpis
    windows = {
        "value": filters,
        "previous": filters.previous_period(),
        "mom": filters.shifted(months=1),
        "yoy": filters.shifted(years=1),
    }
    daily = _daily_sums(session, scope, filters, keys, list(windows.values()))
    openings = _openings(session, scope, filters, keys, [w.start for w in windows.values()])
    frames = {name: _window(daily, openings[w.start], w) for name, w in windows.items()}
    values = {
        name: kpi.summarise(frames[name], keys, w.start, w.end).collect().row(0, named=True)
        for name, w in windows.items()
    }
    spark = kpi.series(frames["value"], keys, filters.start, filters.end, every=spark_grain(filters)).collect()
    tiles = []
    for tile in board.tiles:
        current = values["value"][tile.kpi]
        tiles.append(
            TileValue(
                kpi=tile.kpi,
                value=current,
                previous=values["previous"][tile.kpi],
                mom=values["mom"][tile.kpi],
                yoy=values["yoy"][tile.kpi],
                target=tile.target,
                status=status(current, tile),
                spark_days=tuple(spark["bucket"].to_list()),
                spark_values=tuple(spark[tile.kpi].to_list()),
            )
        )
    return tiles


def tiles_table(tiles: Sequence[TileValue]) -> pl.DataFrame:
    """The board's table (one row per tile) for display and export: raw numbers, no formatting."""
    return pl.DataFrame(
        {
            "kpi": [t.kpi for t in tiles],
            "unit": [kpi.get(t.kpi).unit for t in tiles],
            "value": [t.value for t in tiles],
            "target": [t.target for t in tiles],
            "status": [t.status for t in tiles],
            "previous_period": [t.previous for t in tiles],
            "change": [t.change for t in tiles],
            "month_ago": [t.mom for t in tiles],
            "mom_change": [t.mom_change for t in tiles],
            "year_ago": [t.yoy for t in tiles],
            "yoy_change": [t.yoy_change for t in tiles],
        },
        schema_overrides={
            c: pl.Float64
            for c in ("value", "target", "previous_period", "change", "month_ago", "mom_change", "year_ago")
        }
        | {"yoy_change": pl.Float64},
    )


def trend(
    session: Session, principal: Principal, scope: BoardScope, filters: Filters, key: str, *, grain: str | None = None
) -> pl.DataFrame:
    """``bucket``, ``value`` (the KPI) and ``year_ago`` (same bucket a year earlier) over the filter's range."""
    authorize_scope(session, principal, scope)
    definition = kpi.get(key)
    grain = grain or spark_grain(filters)
    last_year = filters.shifted(years=1)
    daily = _daily_sums(session, scope, filters, [key], [filters, last_year])
    openings = _openings(session, scope, filters, [key], [filters.start, last_year.start])
    now = kpi.series(_window(daily, openings[filters.start], filters), [key], filters.start, filters.end, every=grain)
    before = (
        kpi.series(
            _window(daily, openings[last_year.start], last_year), [key], last_year.start, last_year.end, every=grain
        )
        .select(pl.col("bucket").dt.offset_by("1y").dt.truncate(grain).alias("bucket"), pl.col(key).alias("year_ago"))
        .group_by("bucket")
        .agg(pl.col("year_ago").first())
    )
    result = now.select("bucket", pl.col(key).alias("value")).join(before, on="bucket", how="left").sort("bucket")
    return result.collect().with_columns(pl.lit(definition.unit).alias("unit"))


def breakdowns(
    session: Session,
    principal: Principal,
    scope: BoardScope,
    filters: Filters,
    key: str,
    dimensions: Sequence[str],
    *,
    limit: int = 25,
) -> dict[str, pl.DataFrame]:
    """The KPI per value of each dimension, for the period and the previous one, from ONE pass over those days:
    per dimension a frame ``<dimension>``, ``value``, ``previous``, ``change``, ``volume`` (the KPI's first input
    summed: responses, cases, contacts...), biggest volume first. Per agent only with kpi.agent_level (audited).
    """
    authorize_scope(session, principal, scope)
    for dimension in dimensions:
        if dimension not in BREAKDOWNS:
            raise ValidationError(f"Unknown breakdown {dimension!r}; use one of {', '.join(BREAKDOWNS)}")
    if "agent_id" in dimensions:
        _require_agent_level(session, principal, scope)
    definition = kpi.get(key)
    columns = list(definition.columns)
    previous = filters.previous_period()
    stock = _stock_columns([key])
    now = pl.col("day") >= filters.start
    before = pl.col("day") < previous.start
    scoped = _scoped(session, scope, filters).filter(pl.col("day") <= filters.end)
    if not stock:
        scoped = scoped.filter(~before)
    aggregations = [
        *(pl.col(c).filter(now).sum().cast(pl.Float64).alias(c) for c in columns),
        *(pl.col(c).filter(~now & ~before).sum().cast(pl.Float64).alias(f"_prev_{c}") for c in columns),
        *(pl.col(c).filter(before).sum().cast(pl.Float64).alias(f"_open_{c}") for c in stock),
    ]
    grouped = scoped.group_by(list(dimensions)).agg(aggregations).collect()
    return {d: _breakdown_table(grouped, definition, d, stock, limit) for d in dimensions}


def _breakdown_table(
    grouped: pl.DataFrame, definition: kpi.KpiDefinition, dimension: str, stock: Sequence[str], limit: int
) -> pl.DataFrame:
    sums = grouped.group_by(dimension).agg(pl.exclude(*[c for c in grouped.columns if c in BREAKDOWNS]).sum())
    prior = kpi.PRIOR_PREFIX
    now = sums.select(
        dimension,
        *(pl.col(c) for c in definition.columns),
        *(pl.col(f"_open_{c}") + pl.col(f"_prev_{c}") for c in stock),
    ).rename({f"_open_{c}": f"{prior}{c}" for c in stock})
    then = sums.select(
        dimension,
        *(pl.col(f"_prev_{c}").alias(c) for c in definition.columns),
        *(pl.col(f"_open_{c}").alias(f"{prior}{c}") for c in stock),
    )
    active = pl.sum_horizontal(pl.exclude(dimension)) > 0
    volume = definition.columns[0]
    now_values = now.filter(active).with_columns(definition.expr()).select(dimension, definition.key, volume)
    then_values = then.filter(active).with_columns(definition.expr()).select(dimension, definition.key)
    return (
        now_values.join(then_values.rename({definition.key: "previous"}), on=dimension, how="left")
        .rename({definition.key: "value", volume: "volume"})
        .with_columns((pl.col("value") - pl.col("previous")).alias("change"))
        .sort(["volume", dimension], descending=[True, False], nulls_last=True)
        .head(limit)
        .select(dimension, "value", "previous", "change", "volume")
    )


def _require_agent_level(session: Session, principal: Principal, scope: BoardScope) -> None:
    """Figures per agent: the principal needs kpi.agent_level and the scope must be an agent-level one (audited)."""
    require_audited(session, principal, "kpi.agent_level", object_type="board", object_id=scope.scope_key)
    if not scope.agent_level:
        record_denied(session, principal, "kpi.agent_level", object_type="board", object_id=scope.scope_key)
        raise PermissionDenied("This board does not show figures per agent.")


def breakdown(
    session: Session,
    principal: Principal,
    scope: BoardScope,
    filters: Filters,
    key: str,
    dimension: str,
    *,
    limit: int = 25,
) -> pl.DataFrame:
    """:func:`breakdowns` for one dimension."""
    return breakdowns(session, principal, scope, filters, key, [dimension], limit=limit)[dimension]


def moved(table: pl.DataFrame, key: str, dimension: str, *, top: int = 5, min_volume: float = 5) -> pl.DataFrame:
    """From a breakdown table: the values whose KPI changed most since the previous period (both periods with
    data), with ``worse`` telling whether the change goes the wrong way for the KPI's direction."""
    lower_is_better = kpi.get(key).direction == "lower"
    return (
        table.filter(pl.col("change").is_not_null() & (pl.col("volume") >= min_volume))
        .with_columns(
            pl.col("change").abs().alias("_size"),
            ((pl.col("change") > 0) if lower_is_better else (pl.col("change") < 0)).alias("worse"),
        )
        .sort(["_size", dimension], descending=[True, False])
        .head(top)
        .drop("_size")
    )


def what_moved(
    session: Session,
    principal: Principal,
    scope: BoardScope,
    filters: Filters,
    key: str,
    dimension: str = "touchpoint",
    *,
    top: int = 5,
    min_volume: float = 5,
) -> pl.DataFrame:
    """ "What moved": :func:`moved` over the full breakdown of ``dimension``."""
    authorize_scope(session, principal, scope)
    table = breakdown(session, principal, scope, filters, key, dimension, limit=10_000)
    return moved(table, key, dimension, top=top, min_volume=min_volume)


def segments_in_facts(session: Session, principal: Principal) -> list[str]:
    """Segments present as a daily_facts dimension (empty when the ETL did not pass profile segments); board.view."""
    require_audited(session, principal, "board.view", object_type="board", object_id="segments")
    segments = fact_cache.facts(session)["segment"].unique().to_list()
    return sorted(s for s in segments if s)


def fact_dimension_values(session: Session, principal: Principal, scope: BoardScope, dimension: str) -> list[str]:
    """Distinct non-empty values of a daily_facts dimension within the board's scope (for selectors)."""
    authorize_scope(session, principal, scope)
    if dimension not in (*BREAKDOWNS, "department", "segment"):
        raise ValidationError(f"Unknown dimension {dimension!r}")
    if dimension == "agent_id":
        _require_agent_level(session, principal, scope)
    values = _scoped(session, scope, Filters(date.min, date.max)).select(pl.col(dimension).unique()).collect()
    return sorted(v for v in values[dimension].to_list() if v)


def has_facts(session: Session, principal: Principal, scope: BoardScope) -> bool:
    """True when the board's scope has any daily facts at all (else the page shows how to get data)."""
    authorize_scope(session, principal, scope)
    return _scoped(session, scope, Filters(date.min, date.max)).head(1).collect().height > 0


# --------------------------------------------------------------------------------------------- drill-down


@dataclass(frozen=True)
class Slice:
    """A chart element clicked on the board: optional dimension value, optional single day or bucket range."""

    dimension: str | None = None
    value: str | None = None
    start: date | None = None
    end: date | None = None
    kpi: str | None = None

    def describe(self) -> dict[str, Any]:
        """Ids only, for the audit log."""
        return {
            "dimension": self.dimension,
            "value": self.value,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "kpi": self.kpi,
        }


def _utc_bounds(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(timezone)
    low = datetime.combine(start, time.min, tz).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
    return low, high


def _drill_query(
    scope: BoardScope,
    filters: Filters,
    selection: Slice,
    *,
    timezone: str,
    department_touchpoints: Sequence[str] | None,
) -> Select[Any]:
    start = max(filters.start, selection.start) if selection.start else filters.start
    end = min(filters.end, selection.end) if selection.end else filters.end
    low, high = _utc_bounds(start, end, timezone)
    query = select(*(getattr(Interaction, c) for c in DRILL_COLUMNS)).where(
        Interaction.occurred_at >= low, Interaction.occurred_at < high
    )
    if scope.department:
        # An expression, not the bare column: a department owns most touchpoints' traffic, so walking the time index
        # newest-first (and stopping at the LIMIT) beats the touchpoint index; SQLite without statistics would
        # otherwise pick the touchpoint index and sort every match (about 100x slower on 1M interactions).
        owned = func.coalesce(Interaction.touchpoint, "")
        query = query.where(owned.in_(list(department_touchpoints or [])))
    if scope.team:
        query = query.where(Interaction.team == scope.team)
    for column, values in (
        (Interaction.channel, filters.channels),
        (Interaction.stage, filters.stages),
        (Interaction.touchpoint, filters.touchpoints),
    ):
        if values:
            query = query.where(column.in_(values))
    if filters.segments:
        query = query.where(
            Interaction.profile_id.in_(select(Profile.profile_id).where(Profile.segment.in_(filters.segments)))
        )
    if selection.dimension:
        if selection.dimension not in BREAKDOWNS:
            raise ValidationError(f"Unknown breakdown {selection.dimension!r}")
        if selection.dimension == "agent_id" and not scope.agent_level:
            raise PermissionDenied("Your role may not see interactions per agent.")
        column = getattr(Interaction, selection.dimension)
        query = query.where(column.is_(None) | (column == "") if not selection.value else column == selection.value)
    if selection.kpi in KPI_ROWS:
        query = query.where(KPI_ROWS[selection.kpi])
    return query


def drill_down(
    session: Session,
    principal: Principal,
    scope: BoardScope,
    filters: Filters,
    selection: Slice,
    *,
    timezone: str,
    department_touchpoints: Sequence[str] | None = None,
    limit: int = DRILL_LIMIT,
) -> pl.DataFrame:
    """The newest ``limit`` interactions behind a chart element, masked for ``principal``'s role; audited.

    ``department_touchpoints``: the touchpoints the scope's department owns (journey map), required when the
    scope has a department (interactions carry touchpoints, not departments).
    """
    authorize_scope(session, principal, scope)
    if selection.dimension == "agent_id":
        _require_agent_level(session, principal, scope)
    if scope.department and department_touchpoints is None:
        raise ValidationError("A department's drill-down needs the touchpoints that department owns")
    try:
        query = _drill_query(
            scope, filters, selection, timezone=timezone, department_touchpoints=department_touchpoints
        ).order_by(Interaction.occurred_at.desc(), Interaction.interaction_id.desc())
    except PermissionDenied:
        record_denied(session, principal, "board.drill_down", object_type="board", object_id=scope.scope_key)
        raise
    rows = session.execute(query.limit(limit)).all()
    tz = ZoneInfo(timezone)
    records = []
    for row in rows:
        record = dict(zip(DRILL_COLUMNS, row, strict=True))
        record["occurred_at"] = record["occurred_at"].astimezone(tz).replace(tzinfo=None)
        for field in ("name", "phone", "email"):
            record[field] = mask_value(field, record[field], principal.role)
        if not (scope.agent_level and principal.can("kpi.agent_level")):
            record["agent_id"] = None
        text = record["text"]
        record["text"] = text if text is None or len(text) <= 300 else text[:300] + "…"
        records.append(record)
    audit.record(
        session,
        principal,
        "board.drill_down",
        object_type="board",
        object_id=scope.scope_key,
        detail={**selection.describe(), "rows": len(records)},
    )
    schema = {
        "occurred_at": pl.Datetime("us"),
        "nps": pl.Int64,
        "csat": pl.Int64,
        "ces": pl.Int64,
        "queue_wait_s": pl.Float64,
        "handle_s": pl.Float64,
        "abandoned": pl.Boolean,
        "resolved": pl.Boolean,
    }
    return pl.DataFrame(records, schema={c: schema.get(c, pl.String) for c in DRILL_COLUMNS}, orient="row")


def journey_for_board(session: Session, principal: Principal) -> JourneyModel:
    """The journey map behind a board's labels and department touchpoints (cx.journey_store.load_journey), for a
    principal allowed to see boards (board.view)."""
    require_audited(session, principal, "board.view", object_type="board", object_id="journey")
    return load_journey(session)


def record_board_event(session: Session, principal: Principal, scope: BoardScope, action: str, **detail: Any) -> None:
    """Audit a board view or export (``action``: board.view / board.export), ids only."""
    if action not in ("board.view", "board.export"):
        raise ValidationError(f"Unknown board event {action!r}")
    if action == "board.export" and not principal.can("data.export"):
        raise PermissionDenied("Your role may not export data.")
    audit.record(session, principal, action, object_type="board", object_id=scope.scope_key, detail=detail or None)
