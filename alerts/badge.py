"""The sidebar badge: how many open alerts are assigned to a person."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx.models import Alert

OPEN_STATUSES = ("open", "acknowledged", "in_progress")


def open_alert_count(session: Session, user_id: int) -> int:
    """Alerts assigned to ``user_id`` that still need work."""
    return session.scalar(
        select(func.count()).where(Alert.owner_user_id == user_id, Alert.status.in_(OPEN_STATUSES))
    ) or 0
