"""Escalation with a controlled clock: steps in order, catch-up after downtime fires each step once, business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alerts import engine as alert_engine
from alerts import escalation, lifecycle
from cx.db import transaction
from cx.models import Alert, AlertEvent, Notification
from tests.alerts.harness import load_interactions, save_rules

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # Tuesday 10:00 Asia/Shanghai

RULE = {
    "name": "complaints escalate",
    "level": "warning",
    "scope": {"kind": "interaction"},
    "condition": {"field": "kind", "op": "eq", "value": "complaint"},
    "owners": [{"user": "owner"}],
    "escalation": {
        "steps": [{"after": "30m", "to": {"user": "owner2"}}, {"after": "1h", "to": {"team": "hotline_b"}}],
        "repeat": 1,
    },
}


def _raise_one(engine, settings, rule=RULE, at=T0) -> int:
    save_rules(engine, [rule])
    load_interactions(engine, [{"id": "e1", "at": at - timedelta(minutes=5), "kind": "complaint", "profile": "P-1"}])
    assert alert_engine.evaluate(engine, settings, now=at).created == 1
    with transaction(engine) as s:
        return s.scalar(select(Alert.id))


def _escalate(engine, settings, now) -> list[tuple[int, datetime]]:
    with transaction(engine) as s:
        return [(e.step, e.due_at) for e in escalation.escalate_due(s, settings, now)]


def test_steps_fire_in_order_and_stop_at_the_limit(engine, settings, people) -> None:
    alert_id = _raise_one(engine, settings)
    assert _escalate(engine, settings, T0 + timedelta(minutes=29)) == []
    assert _escalate(engine, settings, T0 + timedelta(minutes=31)) == [(1, T0 + timedelta(minutes=30))]
    with transaction(engine) as s:
        alert = s.get(Alert, alert_id)
        assert alert.owner_user_id == people["owner2"].user_id and alert.escalation_step == 1
        assert alert.next_escalation_at == T0 + timedelta(minutes=90)


def test_catch_up_after_downtime_fires_each_due_step_exactly_once(engine, settings, people) -> None:
    alert_id = _raise_one(engine, settings)
    # The worker was down for three hours: every step that fell due fires now, once, timed from the stored plan.
    fired = _escalate(engine, settings, T0 + timedelta(hours=3))
    assert fired == [(1, T0 + timedelta(minutes=30)), (2, T0 + timedelta(minutes=90)), (3, T0 + timedelta(minutes=150))]
    assert _escalate(engine, settings, T0 + timedelta(hours=3)) == []  # a second worker / a retried pass: nothing
    assert _escalate(engine, settings, T0 + timedelta(days=2)) == []  # the limit (2 steps + 1 repeat) is reached
    with transaction(engine) as s:
        alert = s.get(Alert, alert_id)
        assert alert.owner_team == "hotline_b" and alert.escalation_step == 3 and alert.next_escalation_at is None
        kinds = s.scalars(select(AlertEvent.kind).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)).all()
        assert kinds == ["created", "escalate", "escalate", "escalate"]
        events = s.scalars(select(Notification.event).where(Notification.event.like("escalated:%"))).all()
        assert sorted(events) == ["escalated:1", "escalated:2", "escalated:3"]


def test_acknowledged_alerts_do_not_escalate(engine, settings, people) -> None:
    alert_id = _raise_one(engine, settings)
    with transaction(engine) as s:
        lifecycle.acknowledge(s, people["owner"], alert_id, now=T0 + timedelta(minutes=10))
    assert _escalate(engine, settings, T0 + timedelta(hours=5)) == []


def test_business_hours_stop_the_clock(engine, settings, people) -> None:
    friday_evening = datetime(2026, 3, 13, 9, 50, tzinfo=UTC)  # Friday 17:50 in Shanghai
    rule = {**RULE, "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}}
    alert_id = _raise_one(engine, settings, rule, friday_evening)
    monday_0920 = datetime(2026, 3, 16, 1, 20, tzinfo=UTC)  # 10 minutes on Friday + 20 on Monday
    with transaction(engine) as s:
        alert = s.get(Alert, alert_id)
        assert alert.next_escalation_at == monday_0920
        notice = s.scalars(select(Notification).where(Notification.method == "inapp")).one()
        assert notice.status == "sent"  # in-app shows at once
    assert _escalate(engine, settings, datetime(2026, 3, 15, 12, 0, tzinfo=UTC)) == []  # Sunday: nothing
    assert _escalate(engine, settings, monday_0920) == [(1, monday_0920)]


def test_critical_alerts_ignore_business_hours_unless_told(engine, settings, people) -> None:
    friday_evening = datetime(2026, 3, 13, 10, 30, tzinfo=UTC)  # Friday 18:30 in Shanghai: closed
    rule = {**RULE, "level": "critical", "business_hours": {"start": "09:00", "end": "18:00"}}
    alert_id = _raise_one(engine, settings, rule, friday_evening)
    with transaction(engine) as s:
        assert s.get(Alert, alert_id).next_escalation_at == friday_evening + timedelta(minutes=30)
