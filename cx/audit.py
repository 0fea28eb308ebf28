"""The audit log: who did what, when, with which outcome (never raw personal data)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx.access import Principal
from cx.models import AuditEntry
from cx.types import utcnow


def pseudonym(value: str) -> str:
    """A short one-way tag for a value that must not appear in the log (a searched phone, a user name tried)."""
    return "h:" + hashlib.sha256(value.strip().casefold().encode("utf-8")).hexdigest()[:16]


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    username: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one audit row to ``session`` (the caller commits it with the action it describes)."""
    entry = AuditEntry(
        at=at or utcnow(),
        user_id=principal.user_id if principal else None,
        username=principal.username if principal else username,
        role=principal.role.value if principal else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        detail=detail,
    )
    session.add(entry)
    return entry


def search(
    session: Session,
    *,
    action: str | None = None,
    username: str | None = None,
    outcome: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> list[AuditEntry]:
    """Newest first, filtered by the given fields (all bound as parameters)."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if username:
        query = query.where(AuditEntry.username == username)
    if outcome:
        query = query.where(AuditEntry.outcome == outcome)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    return list(session.scalars(query))
