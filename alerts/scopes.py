"""Per-scope candidate finding: pure, vectorised polars steps from rows (or daily facts) to would-be alerts.

Every function returns a frame of CANDIDATE columns: ``entity_type``, ``entity_id``, ``profile_id``,
``touchpoint``, ``at`` (when the entity last moved), ``metrics`` (struct of the figures the rule tested) and
``evidence`` (the interaction ids behind it, newest last, at most 20). KPI figures come from cx.kpi.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Final

import polars as pl

from alerts.rules import (
    FACT_COLUMNS,
    MetricCondition,
    MetricGroup,
    MetricRule,
    RuleSpec,
    metric_conditions,
    metric_names,
)
from cx import journey_rules, kpi
from cx.filters import Filters

EVIDENCE: Final = 20
CANDIDATE_COLUMNS: Final = ("entity_type", "entity_id", "profile_id", "touchpoint", "at", "metrics", "evidence")

#: Interaction columns each per-customer metric reads.
CUSTOMER_METRIC_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "contacts": (),
    "complaints": ("kind",),
    "resolved": ("resolved",),
    "unresolved": ("resolved",),
    "abandoned": ("abandoned",),
    "channels": ("channel",),
    "touchpoints": ("touchpoint",),
    "min_nps": ("nps",),
    "min_csat": ("csat",),
    "min_ces": ("ces",),
}
SLA_COLUMNS: Final = ("case_id", "resolved", "profile_id", "touchpoint")
COMPARE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
}


def customer_metric(name: str, mask: pl.Expr | None = None) -> pl.Expr:
    """The per-customer figure ``name`` over a group's rows (only those where ``mask`` holds, when given)."""

    def count(flag: pl.Expr) -> pl.Expr:
        return (flag if mask is None else flag & mask).sum()

    def only(column: str) -> pl.Expr:
        return pl.col(column) if mask is None else pl.col(column).filter(mask)

    if name == "contacts":
        figure = pl.len() if mask is None else mask.sum()
    elif name == "complaints":
        figure = count((pl.col("kind") == "complaint").fill_null(False))
    elif name in ("resolved", "unresolved", "abandoned"):
        flag = pl.col("abandoned" if name == "abandoned" else "resolved").fill_null(False)
        figure = count(~flag if name == "unresolved" else flag)
    elif name in ("channels", "touchpoints"):
        figure = only(name[:-1]).drop_nulls().n_unique()
    elif name in ("min_nps", "min_csat", "min_ces"):
        figure = only(name.removeprefix("min_")).min()
    else:
        raise ValueError(f"{name!r} is not a customer metric; use one of {', '.join(CUSTOMER_METRIC_COLUMNS)}")
    return figure.cast(pl.Float64).alias(name)


def metric_column(leaf: MetricCondition) -> str:
    """The frame column a metric leaf reads (trend rules also have ``<kpi>__baseline`` and ``<kpi>__change``)."""
    return leaf.metric if leaf.of == "value" else f"{leaf.metric}__{leaf.of}"


def compile_metrics(rule: MetricRule, column: Callable[[str], str] | None = None) -> pl.Expr:
    """A boolean expression, true where the metric tree holds; a missing figure (no data) is never true.

    ``column`` maps a leaf's column name (:func:`metric_column`) to the frame column holding it, when they differ.
    """
    if isinstance(rule, MetricGroup):
        parts = [compile_metrics(item, column) for item in rule.items]
        return pl.all_horizontal(parts) if rule.mode == "all" else pl.any_horizontal(parts)
    name = metric_column(rule)
    value = pl.col(column(name) if column is not None else name)
    return COMPARE[rule.op](value, rule.value).fill_null(False)


def field_columns(rule: journey_rules.Rule | None) -> set[str]:
    return journey_rules.rule_fields(rule)


def apply_field_rule(frame: pl.DataFrame, rule: journey_rules.Rule | None) -> pl.DataFrame:
    """Rows of ``frame`` where the field tree holds (keyword search on NFKC-folded text, Chinese and English)."""
    if rule is None or frame.is_empty():
        return frame
    missing = {f for f in journey_rules.keyword_fields(rule) if journey_rules.folded_column(f) not in frame.columns}
    lazy = journey_rules.with_folded(frame.lazy(), missing)
    return lazy.filter(journey_rules.compile_rule(rule)).select(frame.columns).collect()


def _filtered(frame: pl.DataFrame, rule: journey_rules.Rule | None, extra: pl.Expr) -> pl.LazyFrame:
    """Lazy rows of ``frame`` where ``extra`` and the field tree hold (folded text added when missing)."""
    lazy = frame.lazy()
    if rule is None:
        return lazy.filter(extra)
    missing = {f for f in journey_rules.keyword_fields(rule) if journey_rules.folded_column(f) not in frame.columns}
    return journey_rules.with_folded(lazy, missing).filter(extra & journey_rules.compile_rule(rule))


def with_folded(frame: pl.DataFrame, fields: set[str]) -> pl.DataFrame:
    """``frame`` plus the normalised copies of ``fields`` keyword conditions search (computed once per pass)."""
    present = [f for f in sorted(fields) if f in frame.columns]
    return journey_rules.with_folded(frame.lazy(), set(present)).collect() if present else frame


def keyword_fields(spec: RuleSpec) -> set[str]:
    """Fields the rule searches with keywords (its condition for interaction rules, else its filter)."""
    tree = spec.filter if spec.scope.kind != "interaction" else spec.condition
    return journey_rules.keyword_fields(tree)  # type: ignore[arg-type]


def _metrics_struct(names: list[str]) -> pl.Expr:
    return pl.struct([pl.col(n) for n in names]).alias("metrics") if names else pl.lit(None).alias("metrics")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "entity_type": pl.String,
            "entity_id": pl.String,
            "profile_id": pl.String,
            "touchpoint": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "metrics": pl.Struct({}),
            "evidence": pl.List(pl.String),
        }
    )


# --------------------------------------------------------------------------------------------- interaction rows


def _interaction_frame(matched: pl.DataFrame) -> pl.DataFrame:
    if matched.is_empty():
        return _empty()
    return matched.select(
        pl.lit("interaction").alias("entity_type"),
        pl.col("interaction_id").alias("entity_id"),
        pl.col("profile_id"),
        pl.col("touchpoint"),
        pl.col("occurred_at").alias("at"),
        pl.lit(None).alias("metrics"),
        pl.concat_list(pl.col("interaction_id")).alias("evidence"),
    ).sort("at")


def interaction_candidates(spec: RuleSpec, rows: pl.DataFrame) -> pl.DataFrame:
    """One candidate per interaction matching the condition."""
    assert not isinstance(spec.condition, MetricCondition | MetricGroup)
    return _interaction_frame(apply_field_rule(rows, spec.condition))


def customer_columns(spec: RuleSpec) -> set[str]:
    names = metric_names(spec.condition if isinstance(spec.condition, MetricCondition | MetricGroup) else None)
    return {c for n in names for c in CUSTOMER_METRIC_COLUMNS[n]} | field_columns(spec.filter) | {"touchpoint"}


def customer_candidates(spec: RuleSpec, rows: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """One candidate per customer whose contacts in (now − window, now] meet the metric condition."""
    return _collected(customer_plan(spec, rows, now))


def _collected(plan: pl.LazyFrame | None) -> pl.DataFrame:
    found = plan.collect() if plan is not None else None
    return found if found is not None and not found.is_empty() else _empty()


def collect_candidates(plans: list[pl.LazyFrame | None]) -> list[pl.DataFrame]:
    """Run many rules' plans at once (polars runs them in parallel)."""
    real = [p for p in plans if p is not None]
    results = iter(pl.collect_all(real)) if real else iter(())
    return [_empty() if p is None else _nonempty(next(results)) for p in plans]


def _nonempty(frame: pl.DataFrame) -> pl.DataFrame:
    return frame if not frame.is_empty() else _empty()


def customer_plan(spec: RuleSpec, rows: pl.DataFrame, now: datetime) -> pl.LazyFrame | None:
    """The lazy query behind :func:`customer_candidates` (None when there are no rows)."""
    assert spec.scope.window is not None and isinstance(spec.condition, MetricCondition | MetricGroup)
    if rows.is_empty():
        return None
    in_window = _filtered(
        rows,
        spec.filter,
        (pl.col("occurred_at") > now - spec.scope.window)
        & (pl.col("occurred_at") <= now)
        & pl.col("profile_id").is_not_null(),
    )
    names = sorted(metric_names(spec.condition))
    grouped = (
        in_window.sort("occurred_at")
        .group_by("profile_id")
        .agg(
            *(customer_metric(n) for n in names),
            pl.col("touchpoint").drop_nulls().last().alias("touchpoint"),
            pl.col("occurred_at").max().alias("at"),
            pl.col("interaction_id").tail(EVIDENCE).alias("evidence"),
        )
    )
    return (
        grouped.filter(compile_metrics(spec.condition))
        .select(
            pl.lit("customer").alias("entity_type"),
            pl.col("profile_id").alias("entity_id"),
            pl.col("profile_id"),
            pl.col("touchpoint"),
            pl.col("at"),
            _metrics_struct(names),
            pl.col("evidence"),
        )
        .sort("entity_id")
    )


def sla_columns(spec: RuleSpec) -> set[str]:
    return set(SLA_COLUMNS) | field_columns(spec.filter)


def sla_candidates(spec: RuleSpec, rows: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """One candidate per open case (its latest contact not marked resolved) meeting the condition at ``now``."""
    return _collected(sla_plan(spec, rows, now))


def sla_plan(spec: RuleSpec, rows: pl.DataFrame, now: datetime) -> pl.LazyFrame | None:
    """The lazy query behind :func:`sla_candidates` (None when there are no rows)."""
    assert isinstance(spec.condition, MetricCondition | MetricGroup)
    if rows.is_empty():
        return None
    cases = _filtered(
        rows,
        spec.filter,
        pl.col("case_id").is_not_null()
        & (pl.col("occurred_at") > now - spec.scope.lookback)
        & (pl.col("occurred_at") <= now),
    )
    names = sorted(metric_names(spec.condition))
    grouped = (
        cases.sort("occurred_at")
        .group_by("case_id")
        .agg(
            pl.col("occurred_at").min().alias("opened_at"),
            pl.col("occurred_at").max().alias("at"),
            pl.col("resolved").last().fill_null(False).alias("closed"),
            pl.len().cast(pl.Float64).alias("contacts"),
            pl.col("profile_id").drop_nulls().last().alias("profile_id"),
            pl.col("touchpoint").drop_nulls().last().alias("touchpoint"),
            pl.col("interaction_id").tail(EVIDENCE).alias("evidence"),
        )
        .filter(~pl.col("closed"))
        .with_columns(((pl.lit(now) - pl.col("opened_at")).dt.total_seconds() / 3600.0).alias("open_hours"))
    )
    return (
        grouped.filter(compile_metrics(spec.condition))
        .select(
            pl.lit("case").alias("entity_type"),
            pl.col("case_id").alias("entity_id"),
            pl.col("profile_id"),
            pl.col("touchpoint"),
            pl.col("at"),
            _metrics_struct(names),
            pl.col("evidence"),
        )
        .sort("entity_id")
    )


# --------------------------------------------------------------------------------------------- daily facts


def fact_keys(spec: RuleSpec) -> tuple[list[str], list[str]]:
    """(KPI keys, plain count columns) a facts rule reads."""
    names = metric_names(spec.condition if isinstance(spec.condition, MetricCondition | MetricGroup) else None)
    kpis = sorted(n for n in names if n in kpi.KPIS)
    counts = sorted(n for n in names if n not in kpi.KPIS and n in FACT_COLUMNS)
    return kpis, counts


def fact_columns(spec: RuleSpec) -> set[str]:
    kpis, counts = fact_keys(spec)
    return set(kpi.needed_columns(kpis)) | set(counts) | field_columns(spec.filter)


def periods(spec: RuleSpec, today: date) -> tuple[Filters, Filters | None]:
    """The measured period ending ``today`` and, for trends, the period it is compared with."""
    assert spec.scope.window is not None
    days = spec.scope.window.days
    current = Filters(today - timedelta(days=days - 1), today)
    if spec.scope.kind != "trend":
        return current, None
    baseline = {
        "mom": current.shifted(months=1),
        "yoy": current.shifted(years=1),
        "previous": current.previous_period(),
    }[spec.scope.compare]
    return current, baseline


def earliest_day(spec: RuleSpec, today: date) -> date | None:
    """The first day of facts the rule needs (None: every day, for cumulative KPIs such as the backlog)."""
    kpis, _counts = fact_keys(spec)
    if any(kpi.get(k).cumulative for k in kpis):
        return None
    current, baseline = periods(spec, today)
    return min(current.start, baseline.start) if baseline else current.start


def _summarise(
    facts: pl.DataFrame, spec: RuleSpec, period: Filters, cache: dict[Any, pl.DataFrame] | None = None
) -> pl.DataFrame:
    kpis, counts = fact_keys(spec)
    key = (repr(spec.filter), spec.scope.by, period.start, period.end, tuple(kpis), tuple(counts))
    if cache is not None and key in cache:
        return cache[key]
    result = _summarise_uncached(facts, spec, period, kpis, counts)
    if cache is not None:
        cache[key] = result
    return result


def _summarise_uncached(
    facts: pl.DataFrame, spec: RuleSpec, period: Filters, kpis: list[str], counts: list[str]
) -> pl.DataFrame:
    by = [] if spec.scope.by == "all" else [spec.scope.by]
    lazy = facts.lazy()
    summary = kpi.summarise(lazy, kpis, period.start, period.end, by).select(*by, *kpis) if kpis else None
    sums = (
        (
            lazy.filter((pl.col("day") >= period.start) & (pl.col("day") <= period.end))
            .group_by(by)
            .agg(pl.col(c).sum().cast(pl.Float64) for c in counts)
            if by
            else lazy.filter((pl.col("day") >= period.start) & (pl.col("day") <= period.end)).select(
                pl.col(c).sum().cast(pl.Float64) for c in counts
            )
        )
        if counts
        else None
    )
    parts = [p for p in (summary, sums) if p is not None]
    if not parts:
        return pl.DataFrame()
    joined = parts[0]
    for part in parts[1:]:
        joined = (
            joined.join(part, on=by, how="full", coalesce=True) if by else pl.concat([joined, part], how="horizontal")
        )
    return joined.collect()


def facts_candidates(
    spec: RuleSpec, facts: pl.DataFrame, today: date, cache: dict[Any, pl.DataFrame] | None = None
) -> pl.DataFrame:
    """One candidate per group (touchpoint, channel, team, ...) whose figures over the window meet the condition;
    trend rules compare with the baseline period (``of: change`` = current − baseline, in points)."""
    assert isinstance(spec.condition, MetricCondition | MetricGroup)
    filtered = apply_field_rule(facts, spec.filter)
    current_period, baseline_period = periods(spec, today)
    by = [] if spec.scope.by == "all" else [spec.scope.by]
    current = _summarise(filtered, spec, current_period, cache)
    if current.is_empty():
        return _empty()
    names = sorted(metric_names(spec.condition))
    metric_cols = list(names)
    if baseline_period is not None:
        baseline = _summarise(filtered, spec, baseline_period, cache)
        renamed = baseline.rename({n: f"{n}__baseline" for n in names if n in baseline.columns})
        if baseline.is_empty():
            current = current.with_columns(pl.lit(None, dtype=pl.Float64).alias(f"{n}__baseline") for n in names)
        else:
            current = (
                current.join(renamed, on=by, how="left") if by else pl.concat([current, renamed], how="horizontal")
            )
        current = current.with_columns((pl.col(n) - pl.col(f"{n}__baseline")).alias(f"{n}__change") for n in names)
        metric_cols = [c for n in names for c in (n, f"{n}__baseline", f"{n}__change")]
    if by:
        current = current.filter(pl.col(by[0]).is_not_null() & (pl.col(by[0]) != ""))
    entity = pl.col(by[0]) if by else pl.lit("all")
    window_end = datetime.combine(current_period.end, datetime.min.time())
    return (
        current.filter(compile_metrics(spec.condition))
        .select(
            pl.lit(spec.scope.by).alias("entity_type"),
            entity.cast(pl.String).alias("entity_id"),
            pl.lit(None, dtype=pl.String).alias("profile_id"),
            (pl.col("touchpoint") if spec.scope.by == "touchpoint" else pl.lit(None, dtype=pl.String)).alias(
                "touchpoint"
            ),
            pl.lit(window_end).dt.replace_time_zone("UTC").alias("at"),
            _metrics_struct(metric_cols),
            pl.lit([], dtype=pl.List(pl.String)).alias("evidence"),
        )
        .sort("entity_id")
    )


def needed_metric_leaves(spec: RuleSpec) -> list[MetricCondition]:
    return metric_conditions(spec.condition if isinstance(spec.condition, MetricCondition | MetricGroup) else None)
