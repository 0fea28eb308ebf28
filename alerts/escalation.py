"""Escalation: an alert nobody acknowledged in time goes to the next owner of its rule's chain.

Decided from stored times only — ``(policy, alert.escalation_step, alert.next_escalation_at, now)`` — so a step
that fell due while no worker ran fires once, right after restart, and each later step is timed from the moment
its predecessor fell due (not from when the worker noticed). A step moves the alert with a compare-and-set on
``escalation_step`` under a row lock, and its notices carry the event ``escalated:<n>`` under the outbox's
unique key, so two workers (or a retried pass) can never fire one step twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import outbox, routing
from alerts.business_hours import notify_not_before, rule_time_after
from alerts.lifecycle import add_event
from alerts.rulebook import spec_of
from alerts.rules import RuleSpec
from alerts.sql import write_lock
from cx.errors import CxError
from cx.models import Alert, AlertRule
from cx.settings import Settings

BATCH = 200


@dataclass(frozen=True)
class Escalated:
    alert_id: int
    step: int
    due_at: datetime
    owner: routing.Owner


def escalate_due(session: Session, settings: Settings, now: datetime) -> list[Escalated]:
    """Fire every escalation step due at ``now`` (several per alert when several fell due while nobody ran)."""
    write_lock(session)
    locking = {"skip_locked": True} if session.get_bind().dialect.name == "postgresql" else {}
    alerts = session.scalars(
        select(Alert)
        .where(
            Alert.status == "open",
            Alert.next_escalation_at.is_not(None),
            Alert.next_escalation_at <= now,
            Alert.rule_id.is_not(None),
        )
        .order_by(Alert.next_escalation_at)
        .limit(BATCH)
        .with_for_update(**locking)
    ).all()
    specs: dict[int, RuleSpec | None] = {}
    fired: list[Escalated] = []
    for alert in alerts:
        assert alert.rule_id is not None
        if alert.rule_id not in specs:
            rule = session.get(AlertRule, alert.rule_id)
            try:
                specs[alert.rule_id] = spec_of(rule) if rule is not None else None
            except CxError:
                specs[alert.rule_id] = None
        spec = specs[alert.rule_id]
        if spec is None:
            alert.next_escalation_at = None
            continue
        fired.extend(_advance(session, alert, spec, settings, now))
    return fired


def _advance(session: Session, alert: Alert, spec: RuleSpec, settings: Settings, now: datetime) -> list[Escalated]:
    fired = []
    while alert.next_escalation_at is not None and alert.next_escalation_at <= now:
        index = alert.escalation_step
        step = spec.escalation.step(index)
        if step is None:
            alert.next_escalation_at = None
            break
        due = alert.next_escalation_at
        owner = routing.resolve_owner(session, step.to.to_dict(), touchpoint=alert.touchpoint)
        before = {"user": alert.owner_user_id, "team": alert.owner_team}
        if not owner.empty:
            alert.owner_user_id, alert.owner_team = owner.user_id, owner.team
            alert.owner_department = owner.department or alert.owner_department
        alert.escalation_step = index + 1
        following = spec.escalation.step(index + 1)
        alert.next_escalation_at = rule_time_after(spec, due, following.after, settings.timezone) if following else None
        add_event(
            session,
            alert,
            None,
            "escalate",
            now=now,
            data={
                "step": index + 1,
                "due_at": due.isoformat(),
                "from": before,
                "to": {"user": owner.user_id, "team": owner.team},
            },
        )
        outbox.enqueue(
            session,
            alert,
            f"escalated:{index + 1}",
            spec.notify,
            routing.recipients(session, owner),
            now=now,
            not_before=notify_not_before(spec, now, settings.timezone),
        )
        fired.append(Escalated(alert.id, index + 1, due, owner))
    return fired
