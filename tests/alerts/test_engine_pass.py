"""One evaluation pass end to end: what it writes per alert, and how a failing rule or stage is contained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import func, select

from alerts import engine as alert_engine
from alerts import evaluation, raising
from cx.db import transaction
from cx.models import Alert, AlertEvent, AlertRule, AuditEntry, Notification
from tests.alerts.harness import load_interactions, save_rules

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _rules() -> list[dict]:
    return [
        {
            "name": "complaints",
            "level": "warning",
            "scope": {"kind": "interaction"},
            "condition": {"field": "kind", "op": "eq", "value": "complaint"},
            "notify": [{"method": "inapp"}, {"method": "webhook", "url": "http://127.0.0.1:9/hook"}],
            "owners": [{"user": "owner"}],
        },
        {
            "name": "repeat contacts",
            "level": "warning",
            "scope": {"kind": "customer", "window": "7d"},
            "condition": {"metric": "contacts", "op": "ge", "value": 2},
            "owners": [{"team": "hotline_a"}],
        },
        {
            "name": "open cases",
            "level": "info",
            "scope": {"kind": "sla"},
            "condition": {"metric": "open_hours", "op": "gt", "value": 1},
        },
    ]


def _seed(engine) -> dict[str, int]:
    ids = dict(zip(["complaints", "repeat contacts", "open cases"], save_rules(engine, _rules()), strict=True))
    rows = []
    for p in range(5):
        for c in range(2):
            rows.append(
                {
                    "id": f"x{p}-{c}",
                    "at": T0 - timedelta(hours=c + 2),
                    "profile": f"P-{p}",
                    "kind": "complaint" if c == 0 else "inquiry",
                    "case_id": f"C-{p}",
                    "resolved": False,
                }
            )
    load_interactions(engine, rows)
    return ids


def _created(engine) -> list[tuple[str | None, str]]:
    with transaction(engine) as s:
        return sorted(
            (row.name, row.entity_id) for row in s.execute(select(AlertRule.name, Alert.entity_id).join(AlertRule))
        )


def _expected() -> list[tuple[str, str]]:
    return sorted(
        [("complaints", f"t:x{p}-0") for p in range(5)]
        + [("repeat contacts", f"P-{p}") for p in range(5)]
        + [("open cases", f"C-{p}") for p in range(5)]
    )


def test_every_alert_gets_one_event_one_audit_row_and_its_notifications(engine, settings, people) -> None:
    ids = _seed(engine)
    result = alert_engine.evaluate(engine, settings, now=T0)
    assert result.created == 15 and not result.errors and set(result.timings) == {"load", "match", "raise"}
    assert _created(engine) == _expected()
    with transaction(engine) as s:
        alerts = {a.id: a for a in s.scalars(select(Alert))}
        events = s.scalars(select(AlertEvent)).all()
        assert sorted(e.alert_id for e in events) == sorted(alerts)
        assert all(e.kind == "created" and e.to_status == "open" and e.actor_id is None for e in events)
        assert all(e.data == {"rule_id": alerts[e.alert_id].rule_id} for e in events)
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.created")).all()
        assert sorted(int(a.object_id) for a in audits) == sorted(alerts)
        assert all(a.username == "system" and a.object_type == "alert" and a.at == T0 for a in audits)
        assert all(a.detail == {"to": "open", "rule_id": alerts[int(a.object_id)].rule_id} for a in audits)
        notices = s.scalars(select(Notification)).all()
        complaint_alerts = {i for i, a in alerts.items() if a.rule_id == ids["complaints"]}
        owner = f"user:{people['owner'].user_id}"
        lead = f"user:{people['lead'].user_id}"  # the team's lead is told about the team's alerts
        assert sorted((n.alert_id, n.method, n.target) for n in notices if n.alert_id in complaint_alerts) == sorted(
            [(i, "inapp", owner) for i in complaint_alerts]
            + [(i, "webhook", "http://127.0.0.1:9/hook") for i in complaint_alerts]
        )
        assert {n.target for n in notices if n.alert_id not in complaint_alerts and n.method == "inapp"} == {lead}
        assert all(n.payload["dedup_key"] == alerts[n.alert_id].dedup_key for n in notices)
        assert {r.watermark for r in s.scalars(select(AlertRule))} == {1}
    again = alert_engine.evaluate(engine, settings, now=T0, full=True)
    assert again.created == 0 and not again.errors


def test_a_failing_combined_evaluation_falls_back_to_one_rule_at_a_time(engine, settings, people, monkeypatch) -> None:
    _seed(engine)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise pl.exceptions.ComputeError("boom")

    for name in ("interaction_many", "customer_many", "sla_many"):
        monkeypatch.setattr(evaluation, name, broken)
    result = alert_engine.evaluate(engine, settings, now=T0)
    assert result.created == 15 and not result.errors
    assert _created(engine) == _expected()


def test_a_rule_whose_alerts_cannot_be_built_fails_alone_and_is_retried(engine, settings, people, monkeypatch) -> None:
    ids = _seed(engine)
    build = raising.alert_rows

    def failing(batch: raising.RuleBatch, *args: object, **kwargs: object) -> None:
        if batch.rule_id == ids["repeat contacts"]:
            raise ValueError("no owner")
        build(batch, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(raising, "alert_rows", failing)
    result = alert_engine.evaluate(engine, settings, now=T0)
    assert result.created == 10 and result.errors == {"repeat contacts": "ValueError: no owner"}
    with transaction(engine) as s:
        marks = {row.name: row.watermark for row in s.execute(select(AlertRule.name, AlertRule.watermark))}
    assert marks == {"complaints": 1, "repeat contacts": None, "open cases": 1}  # the failed rule looks again
    monkeypatch.setattr(raising, "alert_rows", build)
    assert alert_engine.evaluate(engine, settings, now=T0 + timedelta(minutes=1)).created == 5
    assert _created(engine) == _expected()


def test_a_failing_bulk_write_is_redone_rule_by_rule(engine, settings, people, monkeypatch) -> None:
    ids = _seed(engine)
    write = raising._write

    def failing(session, batches, *args, **kwargs) -> None:
        if len(batches) > 1 or batches[0].rule_id == ids["open cases"]:
            write(session, batches, *args, **kwargs)  # written, then rolled back by the savepoint
            raise ValueError("cannot write")
        write(session, batches, *args, **kwargs)

    monkeypatch.setattr(raising, "_write", failing)
    result = alert_engine.evaluate(engine, settings, now=T0)
    assert result.created == 10 and result.errors == {"open cases": "ValueError: cannot write"}
    assert _created(engine) == sorted(e for e in _expected() if e[0] != "open cases")
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(AlertEvent)) == 10
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "alert.created")) == 10
