"""Helpers for rule tests: load small interaction and daily-facts tables, save rules, run evaluation passes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from alerts import engine as alert_engine
from alerts import rulebook
from cx.db import transaction
from cx.models import Alert, DailyFact, Interaction
from cx.settings import Settings


def when(value: Any) -> datetime:
    """ISO text (or a datetime) -> aware UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def interaction_row(spec: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in spec.items() if k not in ("id", "at", "profile", "batch")}
    record = str(spec["id"])
    return {
        "interaction_id": f"t:{record}",
        "record_id": record,
        "source": "t",
        "channel": "phone",
        "occurred_at": when(spec["at"]),
        "profile_id": spec.get("profile"),
        "batch_id": spec.get("batch", 1),
        **row,
    }


def load_interactions(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        with transaction(engine) as session:
            session.execute(insert(Interaction), [interaction_row(r) for r in rows])


def load_facts(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        prepared = []
        for row in rows:
            item = {"channel": "", "stage": "", "touchpoint": "", "department": "", "team": "", "agent_id": ""}
            item.update(row)
            item["day"] = item["day"] if isinstance(item["day"], date) else date.fromisoformat(str(item["day"]))
            prepared.append(item)
        with transaction(engine) as session:
            session.execute(insert(DailyFact), prepared)


def save_rules(engine: Engine, documents: list[dict[str, Any]]) -> list[int]:
    with transaction(engine) as session:
        return [rulebook.save_rule(session, None, doc).id for doc in documents]


def evaluate(engine: Engine, settings: Settings, at: Any, *, full: bool = False) -> list[str]:
    """Run one pass at ``at``; return "<entity type>:<entity id>" of the alerts it created, sorted."""
    now = when(at)
    result = alert_engine.evaluate(engine, settings, now=now, full=full)
    assert not result.errors, result.errors
    with transaction(engine) as session:
        return sorted(
            f"{a.entity_type}:{a.entity_id}" for a in session.scalars(select(Alert).where(Alert.created_at == now))
        )
