"""What the journey-map page shows: touchpoint cards, stage reach and a touchpoint's detail, read for one period.

Card KPIs come from cx.kpi over daily_facts (no formula here); health compares them with the touchpoint's targets
in the KPI's direction; complaint verbatims are masked per role (cx.voc.mask_free_text) before they
leave this module. Every function that reads the store takes the principal and checks ``journey.view`` (the
editor's owner list: ``journey.edit``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

import polars as pl
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cx import audit, kpi, voc
from cx.access import Principal, require
from cx.errors import CxError
from cx.filters import Filters
from cx.journey import JourneyModel, TouchpointModel
from cx.journey_rules import Condition, Group, Rule, fold_keyword, fold_text
from cx.models import Alert, DailyFact, Interaction, LoadBatch, User
from cx.paths import utc_bounds

Status = Literal["good", "watch", "bad", "neutral"]
Trend = Literal["up", "down", "flat"]
OPEN_ALERT_STATUSES: Final = ("open", "acknowledged", "in_progress")
#: Within this share of the target (on the wrong side) a KPI is "watch" rather than "bad".
WATCH_BAND: Final = 0.05
_STATUS_RANK: Final = {"bad": 3, "watch": 2, "good": 1, "neutral": 0}
_FLAT: Final = 1e-9


@dataclass(frozen=True)
class KpiReading:
    """One KPI of a card: its value for the period, the previous period's, the target and the status against it."""

    key: str
    value: float | None
    previous: float | None
    target: float | None
    status: Status

    @property
    def unit(self) -> str:
        return kpi.get(self.key).unit

    @property
    def trend(self) -> Trend | None:
        if self.value is None or self.previous is None:
            return None
        delta = self.value - self.previous
        return "flat" if abs(delta) < _FLAT else ("up" if delta > 0 else "down")

    @property
    def improved(self) -> bool | None:
        """True when the change since the previous period is in the KPI's good direction."""
        trend = self.trend
        if trend in (None, "flat"):
            return None
        return (trend == "up") == (kpi.get(self.key).direction == "higher")


@dataclass(frozen=True)
class TouchpointCard:
    key: str
    volume: int
    previous_volume: int
    kpis: tuple[KpiReading, ...]
    health: Status
    open_alerts: int

    @property
    def headline(self) -> KpiReading | None:
        """The KPI the trend arrow is about: the first one with a value (map order)."""
        return next((r for r in self.kpis if r.value is not None), None)


def kpi_status(key: str, value: float | None, target: float | None, band: float = WATCH_BAND) -> Status:
    """good: meets the target in the KPI's direction; watch: misses it by at most ``band`` of |target|; else bad."""
    if value is None or target is None:
        return "neutral"
    better_by = value - target if kpi.get(key).direction == "higher" else target - value
    if better_by >= 0:
        return "good"
    allowance = abs(target) * band if target else band
    return "watch" if -better_by <= allowance else "bad"


def worst(statuses: Sequence[Status]) -> Status:
    """The card's health: its worst KPI status against target (neutral when nothing has a target)."""
    return max(statuses, key=lambda s: _STATUS_RANK[s], default="neutral")


# --------------------------------------------------------------------------------------------- reading facts


def _read_facts(
    session: Session,
    columns: Sequence[str],
    start: date | None,
    end: date,
    *,
    touchpoints: Sequence[str] = (),
    channels: Sequence[str] = (),
    segments: Sequence[str] = (),
) -> pl.LazyFrame:
    """daily_facts of [start, end] (start None: every day up to end) summed per day and touchpoint in SQL
    (only ``columns``), so the page never loads the channel x team x agent detail rows."""
    table = DailyFact.__table__
    sums = [c for c in dict.fromkeys(columns) if c not in ("day", "touchpoint")]
    wanted = ["day", "touchpoint", *sums]
    query = (
        select(table.c.day, table.c.touchpoint, *(func.sum(table.c[c]).label(c) for c in sums))
        .where(table.c.day <= end)
        .group_by(table.c.day, table.c.touchpoint)
    )
    if start is not None:
        query = query.where(table.c.day >= start)
    if touchpoints:
        query = query.where(table.c.touchpoint.in_(list(touchpoints)))
    if channels:
        query = query.where(table.c.channel.in_(list(channels)))
    if segments and "segment" in table.c:
        query = query.where(table.c.segment.in_(list(segments)))
    rows = session.execute(query).all()
    schema: dict[str, Any] = {c: pl.Float64 for c in wanted}
    schema.update(day=pl.Date, touchpoint=pl.String)
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row").lazy()


def _kpi_keys(journey: JourneyModel) -> list[str]:
    return [k for k in dict.fromkeys(k for tp in journey.touchpoints for k in tp.kpis) if k in kpi.KPIS]


def _open_alert_counts(session: Session, touchpoints: Sequence[str]) -> dict[str, int]:
    rows = session.execute(
        select(Alert.touchpoint, func.count())
        .where(Alert.touchpoint.in_(list(touchpoints)), Alert.status.in_(OPEN_ALERT_STATUSES))
        .group_by(Alert.touchpoint)
    ).all()
    return {tp: int(n) for tp, n in rows}


def touchpoint_cards(
    session: Session,
    principal: Principal | None,
    journey: JourneyModel,
    start: date,
    end: date,
    *,
    channels: Sequence[str] = (),
    segments: Sequence[str] = (),
) -> dict[str, TouchpointCard]:
    """A card per touchpoint: volume, its KPIs (cx.kpi over daily_facts) vs target and vs the previous period."""
    require(principal, "journey.view")
    keys = _kpi_keys(journey)
    days = (end - start).days + 1
    previous_start = start - timedelta(days=days)
    cumulative = any(kpi.get(k).cumulative for k in keys)
    columns = ["interactions", *kpi.needed_columns(keys)]
    touchpoints = [tp.key for tp in journey.touchpoints]
    facts = _read_facts(
        session,
        columns,
        None if cumulative else previous_start,
        end,
        touchpoints=touchpoints,
        channels=channels,
        segments=segments,
    ).collect()
    now = _summary(facts.lazy(), keys, start, end)
    before = _summary(facts.lazy(), keys, previous_start, start - timedelta(days=1))
    alerts = _open_alert_counts(session, touchpoints)
    cards = {}
    for tp in journey.touchpoints:
        current, past = now.get(tp.key, {}), before.get(tp.key, {})
        readings = tuple(
            KpiReading(
                key=k,
                value=current.get(k),
                previous=past.get(k),
                target=tp.targets.get(k),
                status=kpi_status(k, current.get(k), tp.targets.get(k)),
            )
            for k in tp.kpis
            if k in kpi.KPIS
        )
        cards[tp.key] = TouchpointCard(
            key=tp.key,
            volume=int(current.get("interactions") or 0),
            previous_volume=int(past.get("interactions") or 0),
            kpis=readings,
            health=worst([r.status for r in readings]),
            open_alerts=alerts.get(tp.key, 0),
        )
    return cards


def _summary(facts: pl.LazyFrame, keys: list[str], start: date, end: date) -> dict[str, dict[str, float | None]]:
    summed = kpi.summarise(facts, keys, start, end, by=["touchpoint"])
    volume = (
        facts.filter(pl.col("day").is_between(start, end))
        .group_by("touchpoint")
        .agg(interactions=pl.col("interactions").sum())
    )
    table = summed.join(volume, on="touchpoint", how="left").collect()
    return {row["touchpoint"]: row for row in table.iter_rows(named=True)}


def touchpoint_series(
    session: Session,
    principal: Principal | None,
    touchpoint: str,
    keys: Sequence[str],
    start: date,
    end: date,
    *,
    channels: Sequence[str] = (),
) -> pl.DataFrame:
    """The touchpoint's KPIs over time: one row per day (per week, Monday, when the period is over 62 days).

    Columns: period (date), interactions, and one column per KPI key (cx.kpi values).
    """
    require(principal, "journey.view")
    keys = [k for k in keys if k in kpi.KPIS and not kpi.get(k).cumulative]
    facts = _read_facts(
        session, ["interactions", *kpi.needed_columns(keys)], start, end, touchpoints=[touchpoint], channels=channels
    )
    weekly = (end - start).days > 62
    bucket = pl.col("day").dt.truncate("1w") if weekly else pl.col("day")
    facts = facts.with_columns(period=bucket)
    sums = facts.group_by("period").agg(pl.col("interactions").sum(), *kpi.sum_exprs(keys))
    return (
        sums.with_columns(kpi.get(k).expr() for k in keys)
        .sort("period")
        .select("period", "interactions", *keys)
        .collect()
    )


def stage_customers(
    session: Session,
    principal: Principal | None,
    start: date,
    end: date,
    timezone: str,
    *,
    channels: Sequence[str] = (),
) -> dict[str, int]:
    """Distinct customers with an interaction in each stage during the period (the thin bar above the stages)."""
    require(principal, "journey.view")
    low, high = utc_bounds(start, end, timezone)
    query = (
        select(Interaction.stage, func.count(func.distinct(Interaction.profile_id)))
        .where(Interaction.occurred_at >= low, Interaction.occurred_at < high, Interaction.profile_id.is_not(None))
        .group_by(Interaction.stage)
    )
    if channels:
        query = query.where(Interaction.channel.in_(list(channels)))
    return {stage: int(n) for stage, n in session.execute(query).all() if stage}


def customers_in_period(session: Session, principal: Principal | None, start: date, end: date, timezone: str) -> int:
    """Distinct customers with an interaction in the period (what the stage reach is a share of)."""
    require(principal, "journey.view")
    low, high = utc_bounds(start, end, timezone)
    return int(
        session.scalar(
            select(func.count(func.distinct(Interaction.profile_id))).where(
                Interaction.occurred_at >= low, Interaction.occurred_at < high
            )
        )
        or 0
    )


# --------------------------------------------------------------------------------------------- touchpoint detail


@dataclass(frozen=True)
class Verbatim:
    occurred_at: datetime
    channel: str | None
    text: str | None
    nps: int | None


@dataclass(frozen=True)
class AlertSummary:
    id: int
    title: str
    level: str
    status: str
    created_at: datetime
    owner: str | None


def _keywords(rule: Rule | None) -> list[str]:
    if rule is None:
        return []
    if isinstance(rule, Condition):
        return list(rule.value) if rule.op == "contains_any" and rule.field == "text" else []
    assert isinstance(rule, Group)
    return [k for item in rule.items for k in _keywords(item)]


def complaint_texts(
    session: Session,
    principal: Principal | None,
    touchpoint: str,
    start: date,
    end: date,
    timezone: str,
    *,
    limit: int = 5000,
) -> pl.DataFrame:
    """Complaint texts of a touchpoint in the period, newest first (occurred_at, channel, text, nps, name).

    Raw personal data: only :func:`verbatims` (masked) and :func:`complaint_topics` (counts) may leave this module.
    """
    require(principal, "journey.view")
    low, high = utc_bounds(start, end, timezone)
    rows = session.execute(
        select(Interaction.occurred_at, Interaction.channel, Interaction.text, Interaction.nps, Interaction.name)
        .where(
            Interaction.touchpoint == touchpoint,
            Interaction.kind == "complaint",
            Interaction.occurred_at >= low,
            Interaction.occurred_at < high,
        )
        .order_by(Interaction.occurred_at.desc())
        .limit(limit)
    ).all()
    schema = {
        "occurred_at": pl.Datetime("us", "UTC"),
        "channel": pl.String,
        "text": pl.String,
        "nps": pl.Int8,
        "name": pl.String,
    }
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def complaint_topics(
    session: Session,
    principal: Principal,
    texts: pl.DataFrame,
    touchpoint: TouchpointModel,
    filters: Filters,
    timezone: str,
    *,
    top_n: int = 8,
) -> pl.DataFrame:
    """Top complaint topics of the touchpoint (topic, complaints), most first.

    The voice-of-the-customer analysis (cx.voc: topics of texts classified as complaints) when the store has it;
    otherwise how many of the touchpoint's complaints mention each keyword of its mapping rule.
    """
    require(principal, "journey.view")
    try:
        scoped = Filters(filters.start, filters.end, filters.channels, touchpoints=(touchpoint.key,))
        analysed = voc.top_terms(
            session, principal, scoped, timezone, term_type="topic", label="complaint", limit=top_n
        )
    except CxError:
        analysed = pl.DataFrame()
    if not analysed.is_empty():
        return analysed.select(pl.col("term").alias("topic"), pl.col("texts").cast(pl.Int64).alias("complaints"))
    return rule_keyword_topics(texts, touchpoint, top_n=top_n)


def rule_keyword_topics(texts: pl.DataFrame, touchpoint: TouchpointModel, *, top_n: int = 8) -> pl.DataFrame:
    """How many complaints mention each keyword of the touchpoint's rule (topic, complaints), most first."""
    keywords = list(dict.fromkeys(_keywords(touchpoint.rule)))
    if texts.is_empty() or not keywords:
        return pl.DataFrame(schema={"topic": pl.String, "complaints": pl.Int64})
    folded = texts.select(folded=fold_text(pl.col("text")))
    counts = folded.select(
        [
            pl.col("folded").str.contains(fold_keyword(k), literal=True).sum().alias(str(i))
            for i, k in enumerate(keywords)
        ]
    ).row(0)
    frame = pl.DataFrame(
        {"topic": keywords, "complaints": [int(c or 0) for c in counts]}, schema_overrides={"complaints": pl.Int64}
    )
    return frame.filter(pl.col("complaints") > 0).sort(["complaints", "topic"], descending=[True, False]).head(top_n)


def verbatims(texts: pl.DataFrame, principal: Principal, *, limit: int = 8) -> list[Verbatim]:
    """The newest complaint texts, phones, e-mails, handles and the customer's name masked per role (cx.voc)."""
    return [
        Verbatim(
            row["occurred_at"],
            row["channel"],
            voc.mask_free_text(row["text"], principal.role, [row["name"]] if row["name"] else []),
            row["nps"],
        )
        for row in texts.filter(pl.col("text").is_not_null()).head(limit).iter_rows(named=True)
    ]


def touchpoint_alerts(
    session: Session, principal: Principal | None, touchpoint: str, visible: ColumnElement[bool], *, limit: int = 20
) -> list[AlertSummary]:
    """Open alerts on the touchpoint, only those ``visible`` selects: the principal's own
    alerts.visibility.visible_filter (cx does not import alerts, so the caller builds it)."""
    require(principal, "journey.view")
    query = (
        select(Alert.id, Alert.title, Alert.level, Alert.status, Alert.created_at, User.display_name)
        .outerjoin(User, User.id == Alert.owner_user_id)
        .where(Alert.touchpoint == touchpoint, Alert.status.in_(OPEN_ALERT_STATUSES))
        .order_by(Alert.created_at.desc())
        .where(visible)
        .limit(limit)
    )
    return [AlertSummary(*row) for row in session.execute(query).all()]


def user_names(session: Session, principal: Principal | None, user_ids: Sequence[int | None]) -> dict[int, str]:
    """Display names of the given users (a touchpoint's owner on its detail)."""
    require(principal, "journey.view")
    ids = [u for u in set(user_ids) if u is not None]
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def assignable_owners(session: Session, principal: Principal | None) -> dict[int, str]:
    """Active users who may own a touchpoint (id -> display name), for the map editor (``journey.edit``)."""
    require(principal, "journey.edit")
    rows = session.execute(
        select(User.id, User.display_name).where(User.is_active.is_(True)).order_by(User.display_name)
    ).all()
    return dict(rows)


def record_detail_view(session: Session, principal: Principal, touchpoint: str) -> None:
    """Audit that the touchpoint's detail (with complaint verbatims) was opened."""
    require(principal, "journey.view")
    audit.record(session, principal, "journey.view_touchpoint", object_type="touchpoint", object_id=touchpoint)


def labelled(frame: pl.DataFrame, columns: Sequence[str], labels: Mapping[str, str]) -> pl.DataFrame:
    """``frame`` with the step keys in ``columns`` replaced by display labels (keys without a label kept)."""
    mapping = dict(labels)
    return frame.with_columns(pl.col(c).replace(mapping) for c in columns if c in frame.columns)


def data_stamp(session: Session, principal: Principal | None) -> tuple[int | None, int]:
    """Changes whenever data is loaded (newest load batch, number of stored journeys' versions): a cache key part."""
    require(principal, "journey.view")
    return session.scalar(select(func.max(LoadBatch.id))), 0
