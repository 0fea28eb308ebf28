"""Alert lifecycle: raise by hand, acknowledge, start, assign, comment, resolve, close, reopen — each recorded.

Every change adds an AlertEvent (the alert's timeline: who, when, from which status to which) and an audit row
(ids only). Functions take the caller's ``session``; the caller commits. Transitions not allowed from the current
status raise ``AlertTransitionError`` naming the status and what can be done instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox, routing
from alerts.sql import write_lock
from alerts.states import DEFAULT_ACK_WITHIN, DEFAULT_RESOLVE_WITHIN, LEVELS, OPEN_STATUSES, TRANSITIONS
from alerts.visibility import get_visible
from cx import audit
from cx.access import Principal, require
from cx.errors import CxError, NotFoundError, ValidationError
from cx.models import Alert, AlertEvent, Profile
from cx.types import utcnow

MAX_TEXT = 4000
MAX_TITLE = 200


class AlertTransitionError(ValidationError):
    """The alert is not in a status from which this action is allowed."""


def _clean_text(value: str | None, what: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(f"Write a {what}; it cannot be empty")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"The {what} has {len(text)} characters; shorten it to at most {MAX_TEXT}")
    return text or None


def add_event(
    session: Session,
    alert: Alert,
    principal: Principal | None,
    kind: str,
    *,
    now: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> AlertEvent:
    """One timeline entry plus its audit row (``alert.<kind>``; ids only, never the note text)."""
    event = AlertEvent(
        alert_id=alert.id,
        at=now,
        actor_id=principal.user_id if principal else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data,
    )
    session.add(event)
    audit.record(
        session,
        principal,
        f"alert.{kind}",
        object_type="alert",
        object_id=str(alert.id),
        detail={k: v for k, v in {"from": from_status, "to": to_status, **(data or {})}.items() if v is not None},
        username=None if principal else "system",
        at=now,
    )
    alert.updated_at = now
    return event


def _transition(
    session: Session, principal: Principal, alert_id: int, action: str, now: datetime | None, note: str | None
) -> Alert:
    require(principal, "alert.act")
    write_lock(session)
    now = now or utcnow()
    alert = get_visible(session, principal, alert_id, for_update=True)
    allowed_from, to_status = TRANSITIONS[action]
    if alert.status not in allowed_from:
        possible = [name for name, (sources, _to) in TRANSITIONS.items() if alert.status in sources]
        raise AlertTransitionError(
            f"Alert #{alert.id} is {alert.status}; it cannot be {_past(action)}. "
            f"Possible now: {', '.join(possible) or 'comment only'}"
        )
    from_status = alert.status
    alert.status = to_status
    if to_status in ("acknowledged", "in_progress") and alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.due_at = now + DEFAULT_RESOLVE_WITHIN.get(alert.level, DEFAULT_RESOLVE_WITHIN["warning"])
    if to_status in ("acknowledged", "in_progress", "resolved", "closed"):
        alert.next_escalation_at = None  # somebody acted: escalation stops
    add_event(session, alert, principal, action, now=now, from_status=from_status, to_status=to_status, note=note)
    return alert


def _past(action: str) -> str:
    return {"acknowledge": "acknowledged", "start": "started", "resolve": "resolved", "close": "closed"}.get(
        action, action + "ed"
    )


def acknowledge(
    session: Session, principal: Principal, alert_id: int, *, note: str | None = None, now: datetime | None = None
) -> Alert:
    """open → acknowledged (stops escalation; the SLA countdown moves on to resolution)."""
    return _transition(session, principal, alert_id, "acknowledge", now, _clean_text(note, "note", required=False))


def start(
    session: Session, principal: Principal, alert_id: int, *, note: str | None = None, now: datetime | None = None
) -> Alert:
    """open/acknowledged → in_progress."""
    return _transition(session, principal, alert_id, "start", now, _clean_text(note, "note", required=False))


def resolve(
    session: Session, principal: Principal, alert_id: int, root_cause: str, *, now: datetime | None = None
) -> Alert:
    """→ resolved, with the root cause (required)."""
    cause = _clean_text(root_cause, "root cause", required=True)
    now = now or utcnow()
    alert = _transition(session, principal, alert_id, "resolve", now, cause)
    alert.root_cause = cause
    alert.resolved_at = now
    return alert


def close(
    session: Session, principal: Principal, alert_id: int, *, note: str | None = None, now: datetime | None = None
) -> Alert:
    """resolved → closed."""
    now = now or utcnow()
    alert = _transition(session, principal, alert_id, "close", now, _clean_text(note, "note", required=False))
    alert.closed_at = now
    return alert


def reopen(session: Session, principal: Principal, alert_id: int, reason: str, *, now: datetime | None = None) -> Alert:
    """resolved/closed → open again (the reason is required; the SLA countdown restarts)."""
    text = _clean_text(reason, "reason for reopening", required=True)
    now = now or utcnow()
    alert = _transition(session, principal, alert_id, "reopen", now, text)
    alert.resolved_at = alert.closed_at = alert.acknowledged_at = None
    alert.due_at = now + DEFAULT_ACK_WITHIN.get(alert.level, DEFAULT_ACK_WITHIN["warning"])
    return alert


def comment(
    session: Session, principal: Principal, alert_id: int, text: str, *, now: datetime | None = None
) -> AlertEvent:
    """A comment on the timeline (any status)."""
    require(principal, "alert.act")
    body = _clean_text(text, "comment", required=True)
    write_lock(session)
    alert = get_visible(session, principal, alert_id)
    return add_event(session, alert, principal, "comment", now=now or utcnow(), note=body)


def assign(
    session: Session,
    principal: Principal,
    alert_id: int,
    *,
    owner_user_id: int | None,
    owner_team: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """Give the alert to a person and/or team (reassign); the new owner is notified in the app."""
    require(principal, "alert.act")
    now = now or utcnow()
    text = _clean_text(note, "note", required=False)
    write_lock(session)
    alert = get_visible(session, principal, alert_id, for_update=True)
    if alert.status not in OPEN_STATUSES:
        raise AlertTransitionError(f"Alert #{alert.id} is {alert.status}; reopen it before assigning it")
    owner = routing.check_manual_owner(session, owner_user_id, owner_team)
    before = {"user": alert.owner_user_id, "team": alert.owner_team}
    alert.owner_user_id, alert.owner_team = owner.user_id, owner.team
    alert.owner_department = owner.department or alert.owner_department
    event = add_event(
        session,
        alert,
        principal,
        "assign",
        now=now,
        note=text,
        data={"from": before, "to": {"user": owner.user_id, "team": owner.team}},
    )
    session.flush()
    outbox.enqueue(
        session,
        alert,
        f"assigned:{event.id}",
        [outbox.Channel("inapp")],
        routing.recipients(session, owner),
        now=now,
        note=text,
    )
    return alert


def raise_manual_alert(
    session: Session,
    principal: Principal,
    *,
    profile_id: str,
    level: str,
    note: str,
    owner_user_id: int | None,
    owner_team: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """An alert raised by hand from a customer profile (service staff "Escalate"), owned by a person or team.

    Its dedup key is ``manual:<profile>:<uuid>``: every press raises its own alert. The owner gets an in-app
    notification; the alert then follows the normal lifecycle.
    """
    require(principal, "alert.raise")
    write_lock(session)
    now = now or utcnow()
    if level not in LEVELS:
        raise ValidationError(f"Level {level!r} is not one of {', '.join(LEVELS)}")
    text = _clean_text(note, "note", required=True)
    assert text is not None
    profile = session.get(Profile, profile_id) if profile_id else None
    if profile is None:
        raise NotFoundError(f"There is no customer profile {profile_id!r}; search for the customer again")
    owner = routing.check_manual_owner(session, owner_user_id, owner_team)
    first_line = text.splitlines()[0]
    alert = Alert(
        dedup_key=f"manual:{profile_id}:{uuid.uuid4().hex}",
        origin="manual",
        title=first_line[:MAX_TITLE],
        level=level,
        status="open",
        entity_type="customer",
        entity_id=profile_id,
        profile_id=profile_id,
        owner_user_id=owner.user_id,
        owner_team=owner.team,
        owner_department=owner.department,
        due_at=now + DEFAULT_ACK_WITHIN[level],
        details={"note": text},
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(alert)
    session.flush()
    add_event(
        session,
        alert,
        principal,
        "raised",
        now=now,
        to_status="open",
        note=text,
        data={"level": level, "owner": {"user": owner.user_id, "team": owner.team}},
    )
    outbox.enqueue(session, alert, "created", [outbox.Channel("inapp")], routing.recipients(session, owner), now=now)
    return alert


# --------------------------------------------------------------------------------------------- bulk & timeline


@dataclass
class BulkResult:
    """What a bulk action did: the alerts changed and, per alert not changed, why."""

    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def bulk_acknowledge(
    session: Session, principal: Principal, alert_ids: Sequence[int], *, now: datetime | None = None
) -> BulkResult:
    """Acknowledge many alerts at once (alert storms); alerts already acknowledged are skipped with the reason."""
    result = BulkResult()
    for alert_id in alert_ids:
        try:
            with session.begin_nested():
                acknowledge(session, principal, alert_id, now=now)
            result.done.append(alert_id)
        except CxError as exc:
            result.skipped[alert_id] = str(exc)
    return result


def bulk_assign(
    session: Session,
    principal: Principal,
    alert_ids: Sequence[int],
    *,
    owner_user_id: int | None,
    owner_team: str | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Reassign many alerts to one owner."""
    result = BulkResult()
    for alert_id in alert_ids:
        try:
            with session.begin_nested():
                assign(session, principal, alert_id, owner_user_id=owner_user_id, owner_team=owner_team, now=now)
            result.done.append(alert_id)
        except CxError as exc:
            result.skipped[alert_id] = str(exc)
    return result


def timeline(session: Session, principal: Principal, alert_id: int) -> list[AlertEvent]:
    """The alert's events, oldest first (raises NotFoundError if the principal may not see the alert)."""
    get_visible(session, principal, alert_id)
    return list(
        session.scalars(
            select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.at, AlertEvent.id)
        )
    )
