"""Raising a pass's alerts in bulk: cooldown, dedup keys and owners first, then one multi-row INSERT each for the
alerts, their timeline events, their audit rows and their notification outbox rows, in the caller's transaction.

Exactly-once rests on the database: every alert has a dedup key (rule + entity + window) under a unique constraint
and is inserted with "insert, ignore on conflict"; only the rows the database reports as inserted get an event, an
audit row and notifications, in the same transaction. Two processes evaluating at once, or a pass repeated after a
crash, find the keys taken and create nothing.

A rule whose alerts cannot be built (an owner that does not resolve, ...) is reported and skipped; if the bulk write
itself fails, the rules are written again one by one, each in its own savepoint, so only the failing rule is lost.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import String, cast, func, insert, literal, literal_column, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from alerts import outbox, routing
from alerts.business_hours import notify_not_before, rule_time_after
from alerts.rules import FACT_SCOPES, RuleSpec
from alerts.sql import among, insert_ignoring_conflicts
from alerts.states import DEFAULT_ACK_WITHIN
from cx import audit
from cx.errors import CxError
from cx.models import Alert, AlertEvent, AuditEntry
from cx.settings import Settings

log = logging.getLogger(__name__)
EPOCH: Final = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: windows of whole weeks start on Mondays
#: What building or writing one rule's alerts may raise; anything else (the database gone) fails the pass.
RULE_ERRORS: Final = (CxError, ValueError, TypeError, StatementError)


@dataclass
class RuleBatch:
    """One rule's candidates (dicts of alerts.scopes.CANDIDATE_COLUMNS) and what raising them did."""

    rule_id: int
    spec: RuleSpec
    candidates: list[dict[str, Any]]
    created: int = 0
    suppressed: int = 0
    error: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # alert rows still to insert


# --------------------------------------------------------------------------------------------- dedup keys


def window_bucket(spec: RuleSpec, now: datetime, today: date) -> tuple[str, datetime | None, datetime | None]:
    """(label, start, end) of the dedup window containing ``now``: aligned periods of the rule's window length."""
    kind = spec.scope.kind
    if kind in ("interaction", "sla"):
        return "", None, None
    assert spec.scope.window is not None
    if kind in FACT_SCOPES:
        days = spec.scope.window.days
        index = (today.toordinal() - EPOCH.date().toordinal()) // days
        start_day = EPOCH.date() + timedelta(days=index * days)
        start = datetime.combine(start_day, datetime.min.time(), UTC)
        return start_day.isoformat(), start, start + spec.scope.window
    index = (now - EPOCH) // spec.scope.window
    start = EPOCH + index * spec.scope.window
    return start.strftime("%Y-%m-%dT%H:%M"), start, start + spec.scope.window


def dedup_key(rule_id: int, entity_type: str, entity_id: str, bucket: str) -> str:
    """``r<rule>:<entity type>:<entity id>[:<window>]``, the entity hashed when the key would exceed 255 chars."""
    key = f"r{rule_id}:{entity_type}:{entity_id}" + (f":{bucket}" if bucket else "")
    if len(key) <= 255:
        return key
    digest = hashlib.sha256(entity_id.encode("utf-8")).hexdigest()[:40]
    return f"r{rule_id}:{entity_type}:h{digest}" + (f":{bucket}" if bucket else "")


# --------------------------------------------------------------------------------------------- cooldown


def _cooldown_key(batch: RuleBatch, candidate: dict[str, Any]) -> str:
    """Interaction rules cool down per customer, the others per entity."""
    if batch.spec.scope.kind == "interaction":
        return candidate["profile_id"] or candidate["entity_id"]
    return candidate["entity_id"]


def apply_cooldowns(session: Session, batches: Sequence[RuleBatch], now: datetime) -> None:
    """Drop candidates whose key alerted within the rule's cooldown, and repeats of a key within the pass (the first
    one stays). One query per cooldown length and key kind, whatever the number of rules."""
    cooling = [b for b in batches if b.candidates and b.spec.effective_cooldown > timedelta(0)]
    groups: dict[tuple[timedelta, bool], list[RuleBatch]] = {}
    for batch in cooling:
        groups.setdefault((batch.spec.effective_cooldown, batch.spec.scope.kind == "interaction"), []).append(batch)
    recent: dict[int, set[str]] = {}
    for (cooldown, per_customer), members in groups.items():
        stored = Alert.profile_id if per_customer else Alert.entity_id
        keys = sorted({_cooldown_key(b, c) for b in members for c in b.candidates})
        query = select(Alert.rule_id, stored).where(
            Alert.rule_id.in_([b.rule_id for b in members]),
            Alert.created_at > now - cooldown,
            among(session, stored, keys),
        )
        for rule_id, key in session.execute(query):
            recent.setdefault(rule_id, set()).add(key)
    for batch in cooling:
        seen = set(recent.get(batch.rule_id, ()))
        kept = []
        for candidate in batch.candidates:
            key = _cooldown_key(batch, candidate)
            if key not in seen:
                seen.add(key)
                kept.append(candidate)
        batch.suppressed = len(batch.candidates) - len(kept)
        batch.candidates = kept


# --------------------------------------------------------------------------------------------- building rows


class Owners:
    """Owners and recipients resolved once per pass (rules and touchpoints repeat)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._owners: dict[tuple[str, str | None], routing.Owner] = {}
        self._people: dict[routing.Owner, list[routing.Recipient]] = {}

    def owner(self, spec: RuleSpec, touchpoint: str | None) -> routing.Owner:
        specs = [o.to_dict() for o in spec.owners]
        key = (repr(specs), touchpoint)
        if key not in self._owners:
            self._owners[key] = routing.first_owner(self.session, specs, touchpoint=touchpoint)
        return self._owners[key]

    def people(self, owner: routing.Owner) -> list[routing.Recipient]:
        if owner not in self._people:
            self._people[owner] = routing.recipients(self.session, owner)
        return self._people[owner]


def _title(spec: RuleSpec, entity_type: str, entity_id: str) -> str:
    return f"{spec.name} · {entity_type} {entity_id}"[:500]


def alert_rows(batch: RuleBatch, owners: Owners, *, now: datetime, today: date, settings: Settings) -> None:
    """The alert rows of the batch's candidates (into ``batch.rows``)."""
    spec = batch.spec
    bucket, window_start, window_end = window_bucket(spec, now, today)
    ack_within = spec.ack_within or DEFAULT_ACK_WITHIN[spec.level]
    due_at = rule_time_after(spec, now, ack_within, settings.timezone)
    first_step = spec.escalation.step(0)
    next_escalation = rule_time_after(spec, now, first_step.after, settings.timezone) if first_step else None
    rows = []
    for item in batch.candidates:
        owner = owners.owner(spec, item["touchpoint"])
        metrics = item["metrics"] if isinstance(item["metrics"], dict) else {}
        rows.append(
            {
                "dedup_key": dedup_key(batch.rule_id, item["entity_type"], item["entity_id"], bucket),
                "rule_id": batch.rule_id,
                "origin": "rule",
                "title": _title(spec, item["entity_type"], item["entity_id"]),
                "level": spec.level,
                "status": "open",
                "entity_type": item["entity_type"],
                "entity_id": item["entity_id"],
                "profile_id": item["profile_id"],
                "touchpoint": item["touchpoint"],
                "window_start": window_start,
                "window_end": window_end,
                "owner_user_id": owner.user_id,
                "owner_team": owner.team,
                "owner_department": owner.department,
                "escalation_step": 0,
                "next_escalation_at": next_escalation,
                "due_at": due_at,
                "details": {
                    "rule": spec.name,
                    "scope": spec.scope.kind,
                    "metrics": {k: v for k, v in metrics.items() if v is None or v == v},
                    "evidence": list(item["evidence"] or []),
                    "at": item["at"].isoformat() if item["at"] else None,
                },
                "created_at": now,
                "updated_at": now,
            }
        )
    batch.rows = rows


def _drop_taken(session: Session, batches: Sequence[RuleBatch]) -> None:
    """Leave out rows whose key exists already (a shortcut for repeated passes; the unique key stays the guard)."""
    keys = [row["dedup_key"] for batch in batches for row in batch.rows]
    taken = (
        set(session.scalars(select(Alert.dedup_key).where(among(session, Alert.dedup_key, keys)))) if keys else set()
    )
    if taken:
        for batch in batches:
            batch.rows = [row for row in batch.rows if row["dedup_key"] not in taken]


# --------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class _Raised:
    """A just-inserted alert, as the outbox needs it."""

    id: int
    dedup_key: str
    title: str
    level: str
    status: str
    entity_type: str
    entity_id: str
    touchpoint: str | None


def _write(session: Session, batches: Sequence[RuleBatch], owners: Owners, now: datetime, settings: Settings) -> None:
    """Insert the batches' alerts; for those inserted, their events, audit rows and outbox rows (four statements)."""
    rows = [row for batch in batches for row in batch.rows]
    if not rows:
        return
    ids = {
        key: alert_id
        for alert_id, key in insert_ignoring_conflicts(session, Alert, rows, ["dedup_key"], ("id", "dedup_key"))
    }
    created: list[int] = []
    notices: list[dict[str, Any]] = []
    for batch in batches:
        spec = batch.spec
        not_before = notify_not_before(spec, now, settings.timezone)
        for row in batch.rows:
            alert_id = ids.get(row["dedup_key"])
            if alert_id is None:
                continue  # another process raised it in the meantime
            batch.created += 1
            created.append(alert_id)
            raised = _Raised(
                alert_id,
                row["dedup_key"],
                row["title"],
                row["level"],
                row["status"],
                row["entity_type"],
                row["entity_id"],
                row["touchpoint"],
            )
            owner = routing.Owner(row["owner_user_id"], row["owner_team"], row["owner_department"])
            notices += outbox.rows_for(
                raised, "created", spec.notify, owners.people(owner), now=now, not_before=not_before
            )
    if created:
        _events_and_audit(session, created, now)
    outbox.insert_rows(session, notices)


def _events_and_audit(session: Session, alert_ids: list[int], now: datetime) -> None:
    """The "created" timeline event and audit row of each new alert: two INSERT ... SELECT FROM alerts, the ids
    passed as one parameter (alerts.sql.among), so no row goes through Python."""
    new = among(session, Alert.id, alert_ids)
    build = func.jsonb_build_object if session.get_bind().dialect.name == "postgresql" else func.json_object

    def text(value: str) -> Any:
        return literal(value, String())

    events = AlertEvent.__table__
    session.execute(
        insert(events).from_select(
            ["alert_id", "at", "kind", "to_status", "data"],
            select(
                Alert.id,
                literal(now, events.c.at.type),
                text("created"),
                text("open"),
                build(literal_column("'rule_id'"), Alert.rule_id),
            ).where(new),
        )
    )
    # The audit row as cx.audit describes it (ids only): its constant columns, then the alert's id and rule per row.
    entry = audit.entry_values(None, "alert.created", object_type="alert", username="system", at=now)
    constant = {k: v for k, v in entry.items() if v is not None and k not in ("object_id", "detail")}
    audit_log = AuditEntry.__table__
    session.execute(
        insert(audit_log).from_select(
            [*constant, "object_id", "detail"],
            select(
                *(literal(v, audit_log.c[k].type) for k, v in constant.items()),
                cast(Alert.id, String()),
                build(literal_column("'to'"), literal_column("'open'"), literal_column("'rule_id'"), Alert.rule_id),
            ).where(new),
        )
    )


def raise_batches(
    session: Session, batches: Sequence[RuleBatch], *, now: datetime, today: date, settings: Settings
) -> None:
    """Raise every batch's new alerts (setting ``created``, ``suppressed`` and, for a failed rule, ``error``)."""
    apply_cooldowns(session, batches, now)
    owners = Owners(session)
    ready = []
    for batch in batches:
        if not batch.candidates:
            continue
        try:
            alert_rows(batch, owners, now=now, today=today, settings=settings)
        except RULE_ERRORS as exc:
            _failed(batch, exc)
            continue
        ready.append(batch)
    _drop_taken(session, ready)
    try:
        with session.begin_nested():
            _write(session, ready, owners, now, settings)
        return
    except RULE_ERRORS as exc:
        log.warning("writing the pass's alerts failed (%s); writing them rule by rule", exc)
    for batch in ready:
        batch.created = 0
        try:
            with session.begin_nested():
                _write(session, [batch], owners, now, settings)
        except RULE_ERRORS as exc:
            batch.created = 0
            _failed(batch, exc)


def _failed(batch: RuleBatch, exc: Exception) -> None:
    batch.error = f"{type(exc).__name__}: {exc}"[:500]
    log.warning("rule %s (%s) failed: %s", batch.rule_id, batch.spec.name, batch.error)
