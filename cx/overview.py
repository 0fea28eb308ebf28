"""Store-wide figures for the home page: how much is loaded, how fresh, how many alerts are open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx.access import Principal, require
from cx.models import Alert, Interaction, LoadBatch, Profile

OPEN_ALERT_STATUSES = ("open", "acknowledged", "in_progress")


@dataclass(frozen=True)
class Overview:
    interactions: int
    profiles: int
    open_alerts: int
    last_load_at: datetime | None
    last_load_status: str | None


def store_overview(session: Session, principal: Principal | None) -> Overview:
    """Counts over the whole store (no personal data) for the home page (``overview.view``)."""
    require(principal, "overview.view")
    last = session.execute(
        select(LoadBatch.finished_at, LoadBatch.status).order_by(LoadBatch.id.desc()).limit(1)
    ).first()
    return Overview(
        interactions=session.scalar(select(func.count()).select_from(Interaction)) or 0,
        profiles=session.scalar(select(func.count()).select_from(Profile)) or 0,
        open_alerts=session.scalar(select(func.count()).where(Alert.status.in_(OPEN_ALERT_STATUSES))) or 0,
        last_load_at=last[0] if last else None,
        last_load_status=last[1] if last else None,
    )
