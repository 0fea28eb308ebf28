"""The evaluation pass: read what enabled rules need once, find every rule's candidates, raise each alert once.

Three stages, each timed (PassResult.timings): **load** reads, in one read transaction, only the columns the rules
need — of only the new load batches on incremental passes (through the batch index), plus the window of the
customers and the cases those batches touched; **match** evaluates all rules of a scope together in one polars pass
(alerts.evaluation; rule by rule through alerts.scopes only if that fails); **raise** writes the new alerts, their
timeline events, audit rows and outbox rows with one multi-row INSERT each (alerts.raising) and moves the rules'
watermarks, all in one write transaction (``BEGIN IMMEDIATE`` on SQLite).

Exactly-once rests on the database: every alert has a dedup key (rule + entity + window) under a unique constraint
and is inserted with "insert, ignore on conflict", in the same transaction as its timeline event and its
notification outbox rows. Two processes evaluating at once, or a pass repeated after a crash, find the key taken
and create nothing; only the process whose insert won queues the notifications.

Incremental passes read only interactions of load batches newer than each rule's watermark (customer rules: the
customers those batches touched, over the whole window); SLA rules (time alone can breach them) and daily-facts
rules (small) are evaluated in full by the full passes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import polars as pl
from sqlalchemy import Engine, case, func, select, update
from sqlalchemy.orm import Session

from alerts import evaluation, scopes
from alerts.frames import read_facts, read_interactions, read_touched
from alerts.raising import RuleBatch, raise_batches
from alerts.raising import dedup_key as dedup_key
from alerts.raising import window_bucket as window_bucket
from alerts.rulebook import spec_of
from alerts.rules import FACT_SCOPES, RuleSpec
from cx.db import transaction
from cx.errors import CxError
from cx.models import AlertRule, Interaction
from cx.settings import Settings
from cx.types import utcnow

log = logging.getLogger(__name__)
BASE_COLUMNS: Final = ("profile_id", "touchpoint", "batch_id")
#: What evaluating a rule's condition may raise (a rule that cannot be evaluated is reported, the others go on).
MATCH_ERRORS: Final = (CxError, pl.exceptions.PolarsError, ValueError)
_SPECS: dict[str, RuleSpec] = {}  # validated specs by their stored text: parsing 200 rules every minute adds up


@dataclass
class RuleOutcome:
    rule_id: int
    name: str
    candidates: int = 0
    suppressed: int = 0
    created: int = 0
    error: str | None = None


@dataclass
class PassResult:
    """What one evaluation pass did."""

    started_at: datetime
    full: bool
    rules: list[RuleOutcome] = field(default_factory=list)
    seconds: float = 0.0
    #: Wall seconds per stage (load, match, raise — raising includes moving the watermarks), for benchmarks.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def created(self) -> int:
        return sum(r.created for r in self.rules)

    @property
    def errors(self) -> dict[str, str]:
        return {r.name: r.error for r in self.rules if r.error}


@dataclass(frozen=True)
class LoadedRule:
    row_id: int
    name: str
    spec: RuleSpec
    watermark: int | None


# --------------------------------------------------------------------------------------------- loading


def load_rules(session: Session, rule_ids: Sequence[int] | None = None) -> tuple[list[LoadedRule], list[RuleOutcome]]:
    """Enabled rules as specs; a stored rule that no longer validates is reported, not evaluated."""
    query = select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id)
    if rule_ids is not None:
        query = query.where(AlertRule.id.in_(list(rule_ids)))
    loaded, broken = [], []
    for row in session.scalars(query):
        try:
            loaded.append(LoadedRule(row.id, row.name, _spec(row), row.watermark))
        except CxError as exc:
            broken.append(RuleOutcome(row.id, row.name, error=str(exc)))
    return loaded, broken


def _spec(row: AlertRule) -> RuleSpec:
    """The rule's validated spec, parsed once per distinct stored text in this process."""
    key = json.dumps([row.name, row.level, row.enabled, row.definition], sort_keys=True, default=str)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) >= 4096:
            _SPECS.clear()
        spec = _SPECS[key] = spec_of(row)
    return spec


@dataclass
class PassData:
    """Frames shared by every rule of a pass (each loaded once)."""

    new_rows: pl.DataFrame | None = None  # interactions of new batches (interaction and customer rules)
    customer_rows: pl.DataFrame | None = None
    case_rows: pl.DataFrame | None = None
    facts: pl.DataFrame | None = None
    facts_changed: bool = True  # False: an incremental pass after the facts rules ran once (they wait for a full one)
    summaries: dict[Any, pl.DataFrame] = field(default_factory=dict)  # KPI sums shared by facts rules
    touched: dict[int, pl.DataFrame] = field(default_factory=dict)  # customer rows per watermark


def _incremental(rules: list[LoadedRule], full: bool) -> int | None:
    """The batch after which these rules need rows (None: read everything in their windows)."""
    marks = [r.watermark for r in rules]
    if full or not marks or any(m is None for m in marks):
        return None
    return min(m for m in marks if m is not None)


def _load(
    session: Session, rules: list[LoadedRule], now: datetime, today: Any, full: bool, top_batch: int | None
) -> PassData:
    data = PassData()
    by_kind: dict[str, list[LoadedRule]] = {}
    for rule in rules:
        by_kind.setdefault(rule.spec.scope.kind, []).append(rule)
    interaction, customer, sla = (by_kind.get(kind, []) for kind in ("interaction", "customer", "sla"))
    customer_columns = set(BASE_COLUMNS).union(*(scopes.customer_columns(r.spec) for r in customer))
    if interaction or customer:
        batch_after = _incremental(interaction + customer, full)
        columns = customer_columns.union(  # the customer rules read these rows too
            *(scopes.field_columns(r.spec.condition) for r in interaction)  # type: ignore[arg-type]
        )
        horizon = max(
            [r.spec.scope.max_age for r in interaction] + [r.spec.scope.window or timedelta(0) for r in customer]
        )
        data.new_rows = read_interactions(
            session,
            sorted(columns),
            since=now - horizon,
            until=now,
            batch_after=batch_after,
            batch_until=top_batch if batch_after is not None else None,
        )
        if top_batch is not None and batch_after is None:
            data.new_rows = data.new_rows.filter(pl.col("batch_id").is_null() | (pl.col("batch_id") <= top_batch))
        if customer:
            if batch_after is not None:
                # The touched customers' window: their new contacts (read already) and their older ones.
                since = now - max(r.spec.scope.window or timedelta(0) for r in customer)
                names = ["interaction_id", "occurred_at", *sorted(customer_columns)]
                older = read_touched(
                    session,
                    names[2:],
                    "profile_id",
                    batch_after=batch_after,
                    batch_until=top_batch,
                    since=since,
                    until=now,
                    old_only=True,
                )
                new = data.new_rows.filter(
                    (pl.col("occurred_at") > since) & pl.col("profile_id").is_not_null() & (pl.col("profile_id") != "")
                )
                data.customer_rows = pl.concat([new.select(names), older.select(names)])
            else:
                data.customer_rows = data.new_rows
    if sla:
        columns = set(BASE_COLUMNS).union(*(scopes.sla_columns(r.spec) for r in sla))
        lookback = max(r.spec.scope.lookback for r in sla)
        batch_after = _incremental(sla, full)
        # Incremental passes look at the cases new contacts touched; time alone breaches the others, which the
        # periodic full pass finds (the worker runs one every few minutes).
        if batch_after is None:
            data.case_rows = read_interactions(
                session, sorted(columns), since=now - lookback, until=now, with_case=True
            )
        else:
            data.case_rows = read_touched(
                session,
                sorted(columns),
                "case_id",
                batch_after=batch_after,
                batch_until=top_batch,
                since=now - lookback,
                until=now,
            )
    fact_rules = [r for kind in FACT_SCOPES for r in by_kind.get(kind, [])]
    if fact_rules:
        # Daily facts change only when the ETL's aggregate step runs and are read per day: their rules are evaluated
        # by the full passes (every few minutes in the worker), and by incremental passes only while never run.
        data.facts_changed = full or _incremental(fact_rules, full) is None
        if data.facts_changed:
            columns = set().union(*(scopes.fact_columns(r.spec) for r in fact_rules))
            starts = [scopes.earliest_day(r.spec, today) for r in fact_rules]
            data.facts = read_facts(
                session, sorted(columns), start=None if any(s is None for s in starts) else min(starts), end=today
            )
    return data


# --------------------------------------------------------------------------------------------- matching


def _together(
    kind: str, members: list[LoadedRule], data: PassData, now: datetime, full: bool
) -> dict[Hashable, list[evaluation.Candidate]]:
    """The candidates of all ``members`` (rules of scope ``kind``) from one polars pass."""
    entries = [(r.row_id, r.spec, None if full else r.watermark) for r in members]
    if kind == "interaction":
        assert data.new_rows is not None
        oldest = now - max(r.spec.scope.max_age for r in members)
        return evaluation.interaction_many(entries, data.new_rows.filter(pl.col("occurred_at") > oldest), now)
    if kind == "customer":
        assert data.customer_rows is not None
        return evaluation.customer_many(entries, data.customer_rows, data.new_rows, now)
    assert data.case_rows is not None
    return evaluation.sla_many(entries, data.case_rows, now)


def _match(
    rules: list[LoadedRule], data: PassData, now: datetime, today: Any, full: bool, outcomes: dict[int, RuleOutcome]
) -> dict[int, list[evaluation.Candidate]]:
    """Every rule's candidates: the rules of a scope together (alerts.evaluation); if that fails, and for the
    daily-facts rules, one by one (so a failing rule is the only one reported)."""
    found: dict[int, list[evaluation.Candidate]] = {}
    for kind in ("interaction", "customer", "sla"):
        members = [r for r in rules if r.spec.scope.kind == kind]
        if not members:
            continue
        try:
            found.update(_together(kind, members, data, now, full))  # type: ignore[arg-type]
        except MATCH_ERRORS as exc:
            log.warning("evaluating the %s rules together failed (%s); evaluating them one by one", kind, exc)
    for rule in rules:
        if rule.row_id in found:
            continue
        try:
            found[rule.row_id] = candidates_for(rule, data, now, today, full).to_dicts()
        except MATCH_ERRORS as exc:
            outcome = outcomes[rule.row_id]
            outcome.error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("rule %s (%s) failed: %s", rule.row_id, rule.name, outcome.error)
    return found


def plan_for(rule: LoadedRule, data: PassData, now: datetime, full: bool) -> pl.LazyFrame | None:
    """The lazy candidate query of a customer or SLA rule alone (the fallback of :func:`_match`)."""
    spec = rule.spec
    if spec.scope.kind == "sla":
        assert data.case_rows is not None
        return scopes.sla_plan(spec, data.case_rows, now)
    assert data.customer_rows is not None and data.new_rows is not None
    rows = data.customer_rows
    if not full and rule.watermark is not None:
        if rule.watermark not in data.touched:  # rules share watermarks: filter the rows once per watermark
            touched = data.new_rows.filter(pl.col("batch_id") > rule.watermark)["profile_id"].drop_nulls().unique()
            data.touched[rule.watermark] = rows.filter(pl.col("profile_id").is_in(touched.implode()))
        rows = data.touched[rule.watermark]
    return scopes.customer_plan(spec, rows, now)


def candidates_for(rule: LoadedRule, data: PassData, now: datetime, today: Any, full: bool) -> pl.DataFrame:
    """The would-be alerts of one rule alone over the pass's frames (facts rules; the others' fallback)."""
    spec = rule.spec
    kind = spec.scope.kind
    if kind == "interaction":
        assert data.new_rows is not None
        rows = data.new_rows.filter(pl.col("occurred_at") > now - spec.scope.max_age)
        if not full and rule.watermark is not None:
            rows = rows.filter(pl.col("batch_id") > rule.watermark)
        return scopes.interaction_candidates(spec, rows)
    if kind in ("customer", "sla"):
        return scopes.collect_candidates([plan_for(rule, data, now, full)])[0]
    if data.facts is None or not data.facts_changed:
        return pl.DataFrame()
    return scopes.facts_candidates(spec, data.facts, today, data.summaries)


# --------------------------------------------------------------------------------------------- the pass


def _mark_evaluated(session: Session, rule_ids: list[int], now: datetime, top_batch: int | None) -> None:
    """Record the pass on the rules: when, and up to which load batch (their new watermark)."""
    values: dict[str, Any] = {"last_evaluated_at": now}
    if top_batch is not None:
        current = func.coalesce(AlertRule.watermark, 0)
        values["watermark"] = case((current > top_batch, current), else_=top_batch)
    session.execute(
        update(AlertRule)
        .where(AlertRule.id.in_(rule_ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def evaluate(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    full: bool = False,
    rule_ids: Sequence[int] | None = None,
) -> PassResult:
    """One evaluation pass over the enabled rules (see the module docstring); a failing rule is reported in the
    result and keeps its watermark, the others go on."""
    now = now or utcnow()
    today = now.astimezone(settings.tz).date()
    started = time.perf_counter()
    result = PassResult(started_at=now, full=full)
    with transaction(engine) as session:
        rules, broken = load_rules(session, rule_ids)
        result.rules.extend(broken)
        top_batch = session.scalar(select(func.max(Interaction.batch_id)))
        data = _load(session, rules, now, today, full, top_batch)
    result.timings["load"] = time.perf_counter() - started
    outcomes = {rule.row_id: RuleOutcome(rule.row_id, rule.name) for rule in rules}
    result.rules.extend(outcomes.values())
    found = _match(rules, data, now, today, full, outcomes)
    batches = []
    for rule in rules:
        candidates = found.get(rule.row_id, [])
        outcomes[rule.row_id].candidates = len(candidates)
        if candidates:
            batches.append(RuleBatch(rule.row_id, rule.spec, candidates))
    result.timings["match"] = time.perf_counter() - started - result.timings["load"]
    # One write transaction: the alerts with their events, audit and outbox rows, then the watermarks — all or
    # nothing, so a crash only means the same rows are looked at again (where their dedup keys are taken already).
    # A failed rule keeps its watermark (retried next time).
    with transaction(engine, immediate=True) as session:
        if batches:
            raise_batches(session, batches, now=now, today=today, settings=settings)
        for batch in batches:
            outcome = outcomes[batch.rule_id]
            outcome.created, outcome.suppressed, outcome.error = batch.created, batch.suppressed, batch.error
        done = [rule_id for rule_id, outcome in outcomes.items() if outcome.error is None]
        if done:
            _mark_evaluated(session, done, now, top_batch)
    result.timings["raise"] = time.perf_counter() - started - result.timings["load"] - result.timings["match"]
    result.seconds = time.perf_counter() - started
    return result
