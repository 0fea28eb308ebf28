"""Alert lifecycle: manual raise, validated transitions, assignment, comments, bulk actions, visibility, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts import lifecycle
from alerts.badge import open_alert_count
from alerts.lifecycle import AlertTransitionError
from cx.errors import NotFoundError, PermissionDenied, ValidationError
from cx.models import AlertEvent, AuditEntry, Notification
from tests.alerts.conftest import NOW


def _raise(tx, people, **kw):
    args = {
        "profile_id": "P-1",
        "level": "warning",
        "note": "Customer called 4 times about a broken fridge",
        "owner_user_id": people["owner"].user_id,
        "now": NOW,
    }
    args.update(kw)
    with tx() as s:
        return lifecycle.raise_manual_alert(s, people["agent"], **args).id


def test_manual_alert_is_created_with_event_notification_and_audit(tx, people) -> None:
    alert_id = _raise(tx, people)
    with tx() as s:
        alert = s.get(lifecycle.Alert, alert_id)
        assert alert.status == "open" and alert.origin == "manual" and alert.level == "warning"
        assert alert.dedup_key.startswith("manual:P-1:")
        assert alert.owner_user_id == people["owner"].user_id and alert.created_by == people["agent"].user_id
        assert alert.due_at == NOW + timedelta(hours=4)
        events = s.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id)).all()
        assert [(e.kind, e.actor_id, e.to_status) for e in events] == [("raised", people["agent"].user_id, "open")]
        notes = s.scalars(select(Notification)).all()
        assert [(n.method, n.target, n.event, n.dedup_key) for n in notes] == [
            ("inapp", f"user:{people['owner'].user_id}", "created", alert.dedup_key)
        ]
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.raised")).all()
        assert len(audits) == 1 and audits[0].object_id == str(alert_id)
        assert "broken fridge" not in str(audits[0].detail)  # the note stays out of the audit log
        assert open_alert_count(s, people["owner"]) == 1 and open_alert_count(s, people["agent"]) == 0
        with pytest.raises(PermissionDenied):
            open_alert_count(s, None)


def test_each_press_raises_its_own_alert(tx, people) -> None:
    assert _raise(tx, people) != _raise(tx, people)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"level": "urgent"}, "Level 'urgent' is not one of info, warning, critical"),
        ({"note": "   "}, "Write a note"),
        ({"note": "x" * 5000}, "shorten it to at most 4000"),
        ({"owner_user_id": None}, "Choose an owner"),
        ({"owner_user_id": None, "owner_team": "no-such-team"}, "There is no team 'no-such-team'"),
        ({"owner_user_id": 99999}, "User #99999 cannot own alerts"),
    ],
)
def test_manual_alert_input_is_validated(tx, people, changes, message) -> None:
    with pytest.raises(ValidationError, match=message):
        _raise(tx, people, **changes)


def test_manual_alert_needs_a_known_profile_and_the_right(tx, people) -> None:
    with pytest.raises(NotFoundError, match="no customer profile 'P-404'"):
        _raise(tx, people, profile_id="P-404")
    with tx() as s, pytest.raises(PermissionDenied):
        lifecycle.raise_manual_alert(
            s, people["service_head"], profile_id="P-1", level="info", note="n", owner_user_id=people["owner"].user_id
        )


def test_team_owner_is_accepted(tx, people) -> None:
    alert_id = _raise(tx, people, owner_user_id=None, owner_team="hotline_a")
    with tx() as s:
        note = s.scalars(select(Notification)).one()
        assert note.target == f"user:{people['lead'].user_id}"  # the team's lead is told
        assert s.get(lifecycle.Alert, alert_id).owner_team == "hotline_a"


def test_full_lifecycle_records_who_and_when(tx, people) -> None:
    alert_id = _raise(tx, people)
    owner = people["owner"]
    with tx() as s:
        lifecycle.acknowledge(s, owner, alert_id, now=NOW + timedelta(minutes=5))
        lifecycle.start(s, owner, alert_id, now=NOW + timedelta(minutes=6))
        lifecycle.comment(s, owner, alert_id, "Called the customer back", now=NOW + timedelta(minutes=7))
        lifecycle.assign(s, owner, alert_id, owner_user_id=people["owner2"].user_id, now=NOW + timedelta(minutes=8))
        lifecycle.resolve(s, people["owner2"], alert_id, "Spare part was missing", now=NOW + timedelta(hours=1))
        lifecycle.close(s, owner, alert_id, now=NOW + timedelta(hours=2))
        lifecycle.reopen(s, owner, alert_id, "Customer called again", now=NOW + timedelta(hours=3))
    with tx() as s:
        events = lifecycle.timeline(s, owner, alert_id)
        assert [(e.kind, e.from_status, e.to_status) for e in events] == [
            ("raised", None, "open"),
            ("acknowledge", "open", "acknowledged"),
            ("start", "acknowledged", "in_progress"),
            ("comment", None, None),
            ("assign", None, None),
            ("resolve", "in_progress", "resolved"),
            ("close", "resolved", "closed"),
            ("reopen", "closed", "open"),
        ]
        assert events[5].actor_id == people["owner2"].user_id and events[5].note == "Spare part was missing"
        assert events[1].at == NOW + timedelta(minutes=5)
        alert = s.get(lifecycle.Alert, alert_id)
        assert alert.status == "open" and alert.root_cause == "Spare part was missing"
        assert alert.owner_user_id == people["owner2"].user_id
        assert alert.due_at == NOW + timedelta(hours=3, minutes=240)
        assigned = s.scalars(select(Notification).where(Notification.event.like("assigned:%"))).all()
        assert [n.target for n in assigned] == [f"user:{people['owner2'].user_id}"]
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "alert", AuditEntry.object_id == str(alert_id))
        ).all()
        assert sorted(actions) == sorted(
            [
                "alert.raised",
                "alert.acknowledge",
                "alert.start",
                "alert.comment",
                "alert.assign",
                "alert.resolve",
                "alert.close",
                "alert.reopen",
            ]
        )


@pytest.mark.parametrize(
    ("steps", "action", "message"),
    [
        ([], "close", "is open; it cannot be closed. Possible now: acknowledge, start, resolve"),
        (["acknowledge"], "acknowledge", "is acknowledged; it cannot be acknowledged"),
        ([], "reopen", "is open; it cannot be reopened"),
    ],
)
def test_invalid_transitions_say_what_is_possible(tx, people, steps, action, message) -> None:
    alert_id = _raise(tx, people)
    owner = people["owner"]
    with tx() as s:
        for step in steps:
            getattr(lifecycle, step)(s, owner, alert_id, now=NOW)
    with tx() as s, pytest.raises(AlertTransitionError, match=message):
        if action == "reopen":
            lifecycle.reopen(s, owner, alert_id, "why", now=NOW)
        else:
            getattr(lifecycle, action)(s, owner, alert_id, now=NOW)


def test_resolve_needs_a_root_cause(tx, people) -> None:
    alert_id = _raise(tx, people)
    with tx() as s, pytest.raises(ValidationError, match="Write a root cause"):
        lifecycle.resolve(s, people["owner"], alert_id, "  ", now=NOW)


def test_visibility_own_team_all(tx, people) -> None:
    alert_id = _raise(tx, people, owner_user_id=people["lead"].user_id)
    with tx() as s:
        lifecycle.comment(s, people["agent"], alert_id, "raised it myself")  # creator sees it
        lifecycle.comment(s, people["lead"], alert_id, "mine")  # owner
        lifecycle.comment(s, people["owner2"], alert_id, "cx owners see all")
    with tx() as s, pytest.raises(NotFoundError, match=f"no alert #{alert_id} you may see"):
        lifecycle.acknowledge(s, people["agent_b"], alert_id)
    with tx() as s, pytest.raises(NotFoundError):
        lifecycle.acknowledge(s, people["delivery_head"], alert_id)


def test_bulk_acknowledge_and_assign(tx, people) -> None:
    ids = [_raise(tx, people) for _ in range(3)]
    with tx() as s:
        lifecycle.acknowledge(s, people["owner"], ids[0], now=NOW)
    with tx() as s:
        result = lifecycle.bulk_acknowledge(s, people["owner"], ids, now=NOW)
    assert result.done == ids[1:] and list(result.skipped) == [ids[0]]
    with tx() as s:
        result = lifecycle.bulk_assign(s, people["owner"], ids, owner_user_id=None, owner_team="hotline_b", now=NOW)
    assert result.done == ids
    with tx() as s:
        assert {s.get(lifecycle.Alert, i).owner_team for i in ids} == {"hotline_b"}
