"""What the CX owner's inbox shows: the list (mine / my team's / all), sorted by level then due time, and one
alert's detail — what fired and why, the evidence, the customer (masked for the role), the rule and the timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.frames import read_facts
from alerts.rulebook import spec_of
from alerts.rules import MetricCondition, MetricGroup
from alerts.scopes import fact_keys, periods
from alerts.states import LEVEL_RANK, OPEN_STATUSES
from alerts.visibility import get_visible, scope_filter
from cx import audit, kpi
from cx.access import Principal, mask_value, require
from cx.errors import CxError
from cx.models import Alert, AlertEvent, AlertRule, Interaction, Notification, Profile, User
from cx.types import utcnow

MAX_ROWS = 500
EVIDENCE_TEXT = 300


@dataclass(frozen=True)
class InboxRow:
    id: int
    level: str
    status: str
    title: str
    entity_type: str
    entity_id: str
    touchpoint: str | None
    owner: str | None
    owner_team: str | None
    due_at: datetime | None
    created_at: datetime
    seconds_left: float | None  # negative: overdue

    @property
    def overdue(self) -> bool:
        return self.seconds_left is not None and self.seconds_left < 0


def list_alerts(
    session: Session,
    principal: Principal,
    scope: str,
    *,
    statuses: Sequence[str] = OPEN_STATUSES,
    levels: Sequence[str] = (),
    touchpoint: str | None = None,
    text: str | None = None,
    now: datetime,
    limit: int = MAX_ROWS,
) -> list[InboxRow]:
    """The alerts of ``scope`` (mine / team / all) the principal may see, critical first, then by due time."""
    rank = case(*((Alert.level == level, value) for level, value in LEVEL_RANK.items()), else_=9)
    query = (
        select(Alert, User.display_name)
        .outerjoin(User, User.id == Alert.owner_user_id)
        .where(scope_filter(principal, scope))
        .order_by(rank, Alert.due_at.is_(None), Alert.due_at, Alert.id.desc())
        .limit(limit)
    )
    if statuses:
        query = query.where(Alert.status.in_(list(statuses)))
    if levels:
        query = query.where(Alert.level.in_(list(levels)))
    if touchpoint:
        query = query.where(Alert.touchpoint == touchpoint)
    if text and text.strip():
        query = query.where(func.lower(Alert.title).contains(text.strip().lower()[:100], autoescape=True))
    rows = []
    for alert, owner_name in session.execute(query):
        left = (alert.due_at - now).total_seconds() if alert.due_at and alert.status in OPEN_STATUSES else None
        rows.append(
            InboxRow(
                alert.id,
                alert.level,
                alert.status,
                alert.title,
                alert.entity_type,
                alert.entity_id,
                alert.touchpoint,
                owner_name,
                alert.owner_team,
                alert.due_at,
                alert.created_at,
                left,
            )
        )
    return rows


def counts_by_scope(session: Session, principal: Principal, scopes: Sequence[str]) -> dict[str, int]:
    """Open alerts per inbox tab (for the tab labels)."""
    return {
        scope: session.scalar(
            select(func.count()).where(scope_filter(principal, scope), Alert.status.in_(OPEN_STATUSES))
        )
        or 0
        for scope in scopes
    }


# --------------------------------------------------------------------------------------------- detail


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str
    actor: str | None  # None: the system (rule engine, escalation)
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class EvidenceItem:
    interaction_id: str
    occurred_at: datetime
    channel: str | None
    kind: str | None
    touchpoint: str | None
    text: str | None
    resolved: bool | None


@dataclass(frozen=True)
class CustomerSummary:
    """The customer behind an alert, masked for the viewer's role."""

    profile_id: str
    name: str | None
    member_tier: str | None
    interactions: int
    complaints: int
    latest_nps: int | None
    latest_csat: int | None
    risk_score: float | None


@dataclass
class AlertDetail:
    alert: Alert
    owner_name: str | None
    creator_name: str | None
    rule_name: str | None
    rule: dict[str, Any] | None
    timeline: list[TimelineItem]
    evidence: list[EvidenceItem]
    customer: CustomerSummary | None
    notifications: list[dict[str, Any]]
    metrics: dict[str, Any] = field(default_factory=dict)


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {row[0]: row[1] for row in session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))}


def _customer(session: Session, principal: Principal, profile_id: str | None) -> CustomerSummary | None:
    if not profile_id or not principal.can("profile.view"):
        return None
    profile = session.get(Profile, profile_id)
    if profile is None:
        return None
    return CustomerSummary(
        profile_id=profile.profile_id,
        name=mask_value("name", profile.display_name, principal.role),  # type: ignore[arg-type]
        member_tier=profile.member_tier,
        interactions=profile.interaction_count,
        complaints=profile.complaint_count,
        latest_nps=profile.latest_nps,
        latest_csat=profile.latest_csat,
        risk_score=profile.risk_score,
    )


def _evidence(session: Session, ids: Sequence[str]) -> list[EvidenceItem]:
    if not ids:
        return []
    rows = session.execute(
        select(
            Interaction.interaction_id,
            Interaction.occurred_at,
            Interaction.channel,
            Interaction.kind,
            Interaction.touchpoint,
            Interaction.text,
            Interaction.resolved,
        )
        .where(Interaction.interaction_id.in_(list(ids)[:50]))
        .order_by(Interaction.occurred_at.desc())
    ).all()
    return [EvidenceItem(r[0], r[1], r[2], r[3], r[4], (r[5] or "")[:EVIDENCE_TEXT] or None, r[6]) for r in rows]


def alert_detail(session: Session, principal: Principal, alert_id: int, *, record_view: bool = False) -> AlertDetail:
    """Everything the detail pane shows; NotFoundError when the principal may not see the alert.

    ``record_view`` adds an ``alert.view`` audit row (the page does it once per opened alert, not per rerun).
    """
    alert = get_visible(session, principal, alert_id)
    events = session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    names = _names(
        session,
        {e.actor_id for e in events if e.actor_id} | {i for i in (alert.owner_user_id, alert.created_by) if i},
    )
    rule = session.get(AlertRule, alert.rule_id) if alert.rule_id else None
    details = alert.details or {}
    notices = session.execute(
        select(
            Notification.event,
            Notification.method,
            Notification.status,
            Notification.attempts,
            Notification.last_error,
            Notification.sent_at,
        )
        .where(Notification.alert_id == alert_id)
        .order_by(Notification.id)
    ).all()
    if record_view:
        audit.record(session, principal, "alert.view", object_type="alert", object_id=str(alert_id))
        outbox.mark_read(session, principal.user_id, alert_id, utcnow())
    return AlertDetail(
        alert=alert,
        owner_name=names.get(alert.owner_user_id) if alert.owner_user_id else None,
        creator_name=names.get(alert.created_by) if alert.created_by else None,
        rule_name=rule.name if rule else details.get("rule"),
        rule=rule.definition if rule else None,
        timeline=[
            TimelineItem(
                e.at, e.kind, names.get(e.actor_id) if e.actor_id else None, e.from_status, e.to_status, e.note, e.data
            )
            for e in events
        ],
        evidence=_evidence(session, details.get("evidence") or []),
        customer=_customer(session, principal, alert.profile_id),
        notifications=[
            {"event": n[0], "method": n[1], "status": n[2], "attempts": n[3], "error": n[4], "sent_at": n[5]}
            for n in notices
        ],
        metrics=dict(details.get("metrics") or {}),
    )


def metric_series(session: Session, principal: Principal | None, alert_id: int, timezone: str) -> list[dict[str, Any]]:
    """Daily values of the KPIs a facts rule tested, for the alert's entity, over its window (and its baseline,
    shifted onto the same days): rows of ``day``, ``kpi``, ``value``, ``period`` (current / baseline).

    Only for an alert the principal may see (NotFoundError otherwise, as :func:`alert_detail`)."""
    principal = require(principal, "alert.view_own")
    alert = get_visible(session, principal, alert_id)
    if alert.rule_id is None:
        return []
    rule = session.get(AlertRule, alert.rule_id)
    if rule is None:
        return []
    try:
        spec = spec_of(rule)
    except CxError:
        return []
    if spec.scope.kind not in ("aggregate", "trend") or not isinstance(spec.condition, MetricCondition | MetricGroup):
        return []
    kpis, _counts = fact_keys(spec)
    kpis = [k for k in kpis if not kpi.get(k).cumulative]
    if not kpis:
        return []
    end = _window_end(alert, timezone)
    current, baseline = periods(spec, end)
    frames = []
    for label, period in (("current", current), ("baseline", baseline)):
        if period is None:
            continue
        facts = read_facts(session, kpi.needed_columns(kpis), start=period.start, end=period.end)
        if spec.scope.by != "all":
            facts = facts.filter(pl.col(spec.scope.by) == alert.entity_id)
        if facts.is_empty():
            continue
        daily = kpi.summarise(facts.lazy(), kpis, period.start, period.end, ["day"]).collect()
        offset = (current.start - period.start).days
        frames.append(
            daily.unpivot(index="day", on=kpis, variable_name="kpi", value_name="value").with_columns(
                pl.lit(label).alias("period"), (pl.col("day") + pl.duration(days=offset)).alias("day")
            )
        )
    return pl.concat(frames).sort("day").to_dicts() if frames else []


def _window_end(alert: Alert, timezone: str) -> date:
    from zoneinfo import ZoneInfo

    at = (alert.details or {}).get("at")
    moment = datetime.fromisoformat(at) if at else alert.created_at
    return moment.astimezone(ZoneInfo(timezone)).date()


def rule_yaml(definition: dict[str, Any]) -> str:
    """A rule as YAML for display, webhook URLs cut to their host (robot keys live in the query string)."""
    import yaml

    from alerts.delivery import host_of

    shown = dict(definition)
    shown["notify"] = [
        {**channel, "url": host_of(channel["url"]) + "/…"} if channel.get("url") else channel
        for channel in definition.get("notify", [])
    ]
    return yaml.safe_dump(shown, allow_unicode=True, sort_keys=False)
