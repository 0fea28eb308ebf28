"""All the rules of a scope evaluated together: one polars pass over the pass's shared rows per scope.

The engine's fast path; alerts.scopes finds the candidates of one rule (backtests, and the engine's fallback when a
combined pass fails, so that a broken rule is the only one reported). Each rule gets exactly the candidates scopes
would find for it alone (tests/alerts/test_evaluation.py checks this on random data):

- interaction rules: every rule's condition is a boolean column of one ``select`` over the new rows;
- customer rules: one ``group_by`` over the touched customers' rows, each rule's rows a mask column (its filter, its
  window, its watermark; rules sharing them share the mask) and its figures masked aggregations;
- SLA rules: the same over the touched cases' rows.

Only then are the few matched (entity, rule) pairs looked at one by one. Candidates are plain dicts of the columns in
alerts.scopes.CANDIDATE_COLUMNS (raising an alert works on Python values anyway, and the rules' figures differ).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl

from alerts.rules import MetricCondition, MetricGroup, RuleSpec, metric_names
from alerts.scopes import EVIDENCE, compile_metrics, customer_metric
from cx import journey_rules

Candidate = dict[str, Any]
#: (key, spec, watermark): the rule's key in the result, its spec, and the load batch after which its rows are new
#: (None: every row counts).
Entry = tuple[Hashable, RuleSpec, int | None]
AT: Final = "__cx_at_us"  # occurred_at in microseconds since the epoch: integer comparisons are cheap to build
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_COMPILED: dict[str, pl.Expr] = {}
_COMPILED_MAX: Final = 4096


def micros(value: datetime | timedelta) -> int:
    """An aware datetime (microseconds since the epoch) or a duration in microseconds, exactly."""
    delta = value - _EPOCH if isinstance(value, datetime) else value
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def compiled(tree: journey_rules.Rule) -> pl.Expr:
    """``journey_rules.compile_rule(tree, folded=True)``, compiled once per distinct tree in this process."""
    key = repr(tree)  # trees are frozen dataclasses: equal trees, equal reprs
    found = _COMPILED.get(key)
    if found is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        found = _COMPILED[key] = journey_rules.compile_rule(tree, folded=True)
    return found


def _prepared(rows: pl.DataFrame, trees: Sequence[journey_rules.Rule | None]) -> pl.LazyFrame:
    """``rows`` with the folded text the trees search (when missing) and :data:`AT`."""
    fields = set().union(*(journey_rules.keyword_fields(t) for t in trees))
    missing = {f for f in fields if journey_rules.folded_column(f) not in rows.columns}
    return journey_rules.with_folded(rows.lazy(), missing).with_columns(pl.col("occurred_at").dt.epoch("us").alias(AT))


def _flag(index: int) -> str:
    return f"__cx_r{index}"


# --------------------------------------------------------------------------------------------- interaction rules


def interaction_many(entries: Sequence[Entry], rows: pl.DataFrame, now: datetime) -> dict[Hashable, list[Candidate]]:
    """One candidate per row matching a rule's condition, younger than its ``max_age`` and, with a watermark, of a
    newer batch; each rule's candidates in time order."""
    found: dict[Hashable, list[Candidate]] = {key: [] for key, _spec, _mark in entries}
    if not entries or rows.is_empty():
        return found
    windows: dict[tuple[timedelta, int | None], str] = {}
    window_columns, flags = [], []
    for index, (_key, spec, watermark) in enumerate(entries):
        window = (spec.scope.max_age, watermark)
        if window not in windows:
            windows[window] = f"__cx_w{len(windows)}"
            young = pl.col(AT) > micros(now - spec.scope.max_age)
            new = young if watermark is None else young & (pl.col("batch_id") > watermark).fill_null(False)
            window_columns.append(new.fill_null(False).alias(windows[window]))
        condition = compiled(spec.condition)  # type: ignore[arg-type]
        flags.append((condition & pl.col(windows[window])).alias(_flag(index)))
    names = [_flag(i) for i in range(len(entries))]
    index_columns = ["interaction_id", "profile_id", "touchpoint", "occurred_at"]
    hits = (
        _prepared(rows, [spec.condition for _k, spec, _m in entries])  # type: ignore[misc]
        .with_columns(window_columns)
        .select(*index_columns, *flags)
        .filter(pl.any_horizontal(names))
        .unpivot(on=names, index=index_columns, variable_name="__cx_rule", value_name="__cx_hit")
        .filter(pl.col("__cx_hit"))
        .sort("occurred_at", maintain_order=True)
        .collect()
    )
    keys = {name: entries[i][0] for i, name in enumerate(names)}
    for interaction_id, profile_id, touchpoint, at, rule, _hit in hits.iter_rows():
        found[keys[rule]].append(
            {
                "entity_type": "interaction",
                "entity_id": interaction_id,
                "profile_id": profile_id,
                "touchpoint": touchpoint,
                "at": at,
                "metrics": None,
                "evidence": [interaction_id],
            }
        )
    return found


# --------------------------------------------------------------------------------------------- grouped rules


class _Masks:
    """Mask columns shared by rules with the same rows (filter, time span, watermark), and their aggregations."""

    def __init__(self) -> None:
        self.names: dict[tuple[Any, ...], str] = {}
        self.columns: list[pl.Expr] = []
        self.aggregations: dict[str, pl.Expr] = {}

    def mask(self, key: tuple[Any, ...], build: Any) -> str:
        if key not in self.names:
            name = self.names[key] = f"__cx_m{len(self.names)}"
            self.columns.append(build().fill_null(False).alias(name))
            self.aggregate(f"{name}:any", pl.col(name).any())
        return self.names[key]

    def aggregate(self, name: str, expression: pl.Expr) -> str:
        if name not in self.aggregations:
            self.aggregations[name] = expression.alias(name)
        return name


def _metrics(condition: MetricCondition | MetricGroup, row: dict[str, Any], mask: str) -> dict[str, Any]:
    return {name: row[f"{mask}:{name}"] for name in sorted(metric_names(condition))}


def _matches(grouped: pl.DataFrame, key: str, rules: int) -> list[tuple[int, dict[str, Any]]]:
    """(rule index, group row) for every group and rule whose flag is set, by rule then group key."""
    pairs = []
    for row in grouped.iter_rows(named=True):
        pairs.extend((index, row) for index in range(rules) if row[_flag(index)])
    return sorted(pairs, key=lambda pair: (pair[0], pair[1][key]))


def _details(
    rows: pl.DataFrame, key: str, groups: set[str], masks: set[str], with_profile: bool
) -> dict[tuple[str, str], dict[str, Any]]:
    """(group, mask) -> the last touchpoint (and profile), the latest time and the last EVIDENCE interaction ids of
    the group's rows in the mask, in time order."""
    if not groups:
        return {}
    index = [key, *(["profile_id"] if with_profile else []), "touchpoint", "occurred_at", "interaction_id"]
    found = (
        rows.lazy()
        .filter(pl.col(key).is_in(pl.Series(sorted(groups), dtype=pl.String).implode()))
        .select(*index, *sorted(masks))
        .unpivot(on=sorted(masks), index=index, variable_name="__cx_mask", value_name="__cx_in")
        .filter(pl.col("__cx_in"))
        .sort("occurred_at", maintain_order=True)
        .group_by(key, "__cx_mask")
        .agg(
            *([pl.col("profile_id").drop_nulls().last()] if with_profile else []),
            pl.col("touchpoint").drop_nulls().last(),
            pl.col("occurred_at").max().alias("at"),
            pl.col("interaction_id").tail(EVIDENCE).alias("evidence"),
        )
        .collect()
    )
    return {(row[key], row["__cx_mask"]): row for row in found.iter_rows(named=True)}


def customer_many(
    entries: Sequence[Entry], rows: pl.DataFrame, new_rows: pl.DataFrame | None, now: datetime
) -> dict[Hashable, list[Candidate]]:
    """One candidate per customer whose contacts in (now − window, now] (of the rule's filter) meet its condition;
    with a watermark, only customers with contacts in newer batches (``new_rows``). Ordered by customer."""
    found: dict[Hashable, list[Candidate]] = {key: [] for key, _spec, _mark in entries}
    if not entries or rows.is_empty():
        return found
    now_us = micros(now)
    masks = _Masks()
    touched: dict[int, pl.Expr] = {}  # watermark -> "the customer has contacts in newer batches", a column each
    flags, rule_masks = [], []
    for index, (_key, spec, watermark) in enumerate(entries):
        assert spec.scope.window is not None and isinstance(spec.condition, MetricCondition | MetricGroup)
        if watermark is not None and watermark not in touched:
            assert new_rows is not None
            ids = new_rows.filter(pl.col("batch_id") > watermark)["profile_id"].drop_nulls().unique()
            touched[watermark] = pl.col("profile_id").is_in(ids.implode()).alias(f"__cx_t{watermark}")

        def build(spec: RuleSpec = spec, watermark: int | None = watermark) -> pl.Expr:
            assert spec.scope.window is not None
            mask = (pl.col(AT) > now_us - micros(spec.scope.window)) & (pl.col(AT) <= now_us)
            mask = mask if spec.filter is None else mask & compiled(spec.filter)
            return mask if watermark is None else mask & pl.col(f"__cx_t{watermark}")

        name = masks.mask((repr(spec.filter), spec.scope.window, watermark), build)
        for metric in metric_names(spec.condition):
            masks.aggregate(f"{name}:{metric}", customer_metric(metric, pl.col(name)))
        holds = compile_metrics(spec.condition, lambda column, name=name: f"{name}:{column}")
        flags.append((pl.col(f"{name}:any") & holds).alias(_flag(index)))
        rule_masks.append(name)
    prepared = (
        _prepared(rows.filter(pl.col("profile_id").is_not_null()), [spec.filter for _k, spec, _m in entries])
        .with_columns(touched.values())
        .with_columns(masks.columns)
        .collect()
    )
    grouped = (
        prepared.lazy()
        .group_by("profile_id")
        .agg(*masks.aggregations.values())
        .with_columns(flags)
        .filter(pl.any_horizontal(_flag(i) for i in range(len(entries))))
        .collect()
    )
    pairs = _matches(grouped, "profile_id", len(entries))
    details = _details(
        prepared, "profile_id", {row["profile_id"] for _i, row in pairs}, {rule_masks[i] for i, _r in pairs}, False
    )
    for index, row in pairs:
        key, spec, _mark = entries[index]
        detail = details[(row["profile_id"], rule_masks[index])]
        found[key].append(
            {
                "entity_type": "customer",
                "entity_id": row["profile_id"],
                "profile_id": row["profile_id"],
                "touchpoint": detail["touchpoint"],
                "at": detail["at"],
                "metrics": _metrics(spec.condition, row, rule_masks[index]),  # type: ignore[arg-type]
                "evidence": detail["evidence"],
            }
        )
    return found


def sla_many(entries: Sequence[Entry], rows: pl.DataFrame, now: datetime) -> dict[Hashable, list[Candidate]]:
    """One candidate per open case (its latest contact in the rule's rows not marked resolved) meeting the rule's
    condition at ``now``. Ordered by case."""
    found: dict[Hashable, list[Candidate]] = {key: [] for key, _spec, _mark in entries}
    if not entries or rows.is_empty():
        return found
    now_us = micros(now)
    masks = _Masks()
    flags, rule_masks = [], []
    for index, (_key, spec, _watermark) in enumerate(entries):
        assert isinstance(spec.condition, MetricCondition | MetricGroup)

        def build(spec: RuleSpec = spec) -> pl.Expr:
            mask = (pl.col(AT) > now_us - micros(spec.scope.lookback)) & (pl.col(AT) <= now_us)
            return mask if spec.filter is None else mask & compiled(spec.filter)

        name = masks.mask((repr(spec.filter), spec.scope.lookback), build)
        opened = masks.aggregate(f"{name}:opened", pl.col(AT).filter(pl.col(name)).min())
        closed = masks.aggregate(f"{name}:closed", pl.col("resolved").filter(pl.col(name)).last().fill_null(False))
        masks.aggregate(f"{name}:contacts", pl.col(name).sum().cast(pl.Float64))
        flags.append(
            (
                pl.col(f"{name}:any")
                & ~pl.col(closed)
                & compile_metrics(spec.condition, lambda column, name=name: f"{name}:{column}")
            ).alias(_flag(index))
        )
        rule_masks.append((name, opened))
    hours = [
        (((now_us - pl.col(opened)) // 1_000_000) / 3600.0).alias(f"{name}:open_hours")
        for name, opened in dict(rule_masks).items()
    ]
    prepared = (
        _prepared(rows.filter(pl.col("case_id").is_not_null()), [spec.filter for _k, spec, _m in entries])
        .sort("occurred_at", maintain_order=True)  # "closed" is the latest contact's resolved flag
        .with_columns(masks.columns)
        .collect()
    )
    grouped = (
        prepared.lazy()
        .group_by("case_id")
        .agg(*masks.aggregations.values())
        .with_columns(hours)
        .with_columns(flags)
        .filter(pl.any_horizontal(_flag(i) for i in range(len(entries))))
        .collect()
    )
    names = [name for name, _opened in rule_masks]
    pairs = _matches(grouped, "case_id", len(entries))
    details = _details(prepared, "case_id", {row["case_id"] for _i, row in pairs}, {names[i] for i, _r in pairs}, True)
    for index, row in pairs:
        key, spec, _mark = entries[index]
        detail = details[(row["case_id"], names[index])]
        found[key].append(
            {
                "entity_type": "case",
                "entity_id": row["case_id"],
                "profile_id": detail["profile_id"],
                "touchpoint": detail["touchpoint"],
                "at": detail["at"],
                "metrics": _metrics(spec.condition, row, names[index]),  # type: ignore[arg-type]
                "evidence": detail["evidence"],
            }
        )
    return found
