"""Backtest: how often a rule would have fired over the last N days, with examples — before anyone saves it.

It replays the rule with the engine's own candidate finding (alerts.scopes) at each day's end, applying the same
dedup windows and cooldown, so owners see what they would get ("would have fired 14 times in 30 days").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy.orm import Session

from alerts import scopes
from alerts.engine import window_bucket
from alerts.frames import read_facts, read_interactions
from alerts.rules import FACT_SCOPES, RuleSpec, parse_rule
from cx.access import Principal, require
from cx.errors import ValidationError

MAX_DAYS = 90
EXAMPLES = 10


@dataclass
class Backtest:
    days: int
    fired: int = 0
    per_day: list[tuple[date, int]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def per_day_average(self) -> float:
        return self.fired / self.days if self.days else 0.0


def _day_ends(now: datetime, days: int, timezone: str) -> list[datetime]:
    """The end of each of the last ``days`` local days (the last one is ``now``)."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    ends = [
        datetime.combine(today - timedelta(days=offset), datetime.max.time(), zone).astimezone(now.tzinfo)
        for offset in range(days - 1, 0, -1)
    ]
    return [*ends, now]


def backtest_rule(
    session: Session,
    principal: Principal,
    document: dict[str, Any],
    *,
    days: int,
    now: datetime,
    timezone: str,
) -> Backtest:
    """Replay ``document`` (validated first: RuleConfigError lists its problems) over the last ``days`` days."""
    require(principal, "rule.view")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"Backtest between 1 and {MAX_DAYS} days, not {days}")
    spec = parse_rule(document)
    result = Backtest(days=days)
    start = now - timedelta(days=days)
    fired: list[dict[str, Any]] = []
    if spec.scope.kind == "interaction":
        rows = read_interactions(
            session,
            sorted(scopes.field_columns(spec.condition) | {"profile_id", "touchpoint"}),  # type: ignore[arg-type]
            since=start,
            until=now,
        )
        candidates = scopes.interaction_candidates(spec, rows)
        fired = _apply_cooldown(spec, [dict(r, fired_at=r["at"]) for r in candidates.iter_rows(named=True)])
    else:
        evaluations = _day_ends(now, days, timezone)
        frame = _data(session, spec, start, now, timezone)
        seen: set[str] = set()
        collected: list[dict[str, Any]] = []
        for moment in evaluations:
            today = moment.astimezone(ZoneInfo(timezone)).date()
            if spec.scope.kind == "customer":
                candidates = scopes.customer_candidates(spec, frame, moment)
            elif spec.scope.kind == "sla":
                candidates = scopes.sla_candidates(spec, frame, moment)
            else:
                candidates = scopes.facts_candidates(spec, frame, today)
            bucket, _start, _end = window_bucket(spec, moment, today)
            for row in candidates.iter_rows(named=True):
                key = f"{row['entity_type']}:{row['entity_id']}:{bucket}"
                if key not in seen:
                    seen.add(key)
                    collected.append(dict(row, fired_at=moment))
        fired = _apply_cooldown(spec, collected)
    counts: dict[date, int] = {}
    zone = ZoneInfo(timezone)
    for item in fired:
        day = item["fired_at"].astimezone(zone).date()
        counts[day] = counts.get(day, 0) + 1
    first_day = now.astimezone(zone).date() - timedelta(days=days - 1)
    result.per_day = [
        (first_day + timedelta(days=i), counts.get(first_day + timedelta(days=i), 0)) for i in range(days)
    ]
    result.fired = sum(c for _d, c in result.per_day)
    result.examples = [
        {
            "fired_at": item["fired_at"],
            "entity": f"{item['entity_type']} {item['entity_id']}",
            "touchpoint": item.get("touchpoint"),
            "metrics": {k: round(v, 2) if isinstance(v, float) else v for k, v in (item.get("metrics") or {}).items()},
        }
        for item in sorted(fired, key=lambda i: i["fired_at"], reverse=True)[:EXAMPLES]
    ]
    return result


def _data(session: Session, spec: RuleSpec, start: datetime, now: datetime, timezone: str) -> pl.DataFrame:
    if spec.scope.kind in FACT_SCOPES:
        today = now.astimezone(ZoneInfo(timezone)).date()
        first = scopes.earliest_day(spec, (start.astimezone(ZoneInfo(timezone))).date())
        return read_facts(session, sorted(scopes.fact_columns(spec)), start=first, end=today)
    if spec.scope.kind == "customer":
        assert spec.scope.window is not None
        return read_interactions(
            session, sorted(scopes.customer_columns(spec) | {"profile_id"}), since=start - spec.scope.window, until=now
        )
    return read_interactions(
        session, sorted(scopes.sla_columns(spec)), since=start - spec.scope.lookback, until=now, with_case=True
    )


def _apply_cooldown(spec: RuleSpec, fired: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the alerts the cooldown lets through (per entity; per customer for interaction rules)."""
    cooldown = spec.effective_cooldown
    if cooldown <= timedelta(0):
        return fired
    last: dict[str, datetime] = {}
    kept = []
    for item in sorted(fired, key=lambda i: i["fired_at"]):
        key = (item.get("profile_id") if spec.scope.kind == "interaction" else None) or item["entity_id"]
        previous = last.get(key)
        if previous is None or item["fired_at"] - previous >= cooldown:
            kept.append(item)
            last[key] = item["fired_at"]
    return kept
