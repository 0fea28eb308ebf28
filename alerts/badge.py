"""The sidebar badge: how many open alerts are assigned to the signed-in person."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.states import OPEN_STATUSES
from cx.access import Principal, require
from cx.models import Alert


def open_alert_count(session: Session, principal: Principal | None) -> int:
    """Alerts assigned to the principal that still need work (``alert.view_own``: only one's own are counted)."""
    person = require(principal, "alert.view_own")
    return (
        session.scalar(
            select(func.count()).where(Alert.owner_user_id == person.user_id, Alert.status.in_(OPEN_STATUSES))
        )
        or 0
    )
