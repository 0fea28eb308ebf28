"""The audit log: who did what, when, with which outcome (never raw personal data)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx.access import Principal
from cx.app_secrets import stored_secret
from cx.models import AuditEntry
from cx.types import utcnow

_PSEUDONYM_KEY = "audit_pseudonym_key"


def pseudonym(session: Session, value: str) -> str:
    """A keyed one-way tag for a value that must not appear in the log (a searched phone, an SSO identity).

    HMAC-SHA256 with a store secret, so the tag of a phone number cannot be found by hashing every number.
    """
    key = stored_secret(session, _PSEUDONYM_KEY).encode("utf-8")
    return "h:" + hmac.new(key, value.strip().casefold().encode("utf-8"), hashlib.sha256).hexdigest()[:20]


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
        **entry_values(
            principal,
            action,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            detail=detail,
            username=username,
            at=at,
        )
    )
    session.add(entry)
    return entry


def entry_values(
    principal: Principal | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    username: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one audit row (for callers writing it outside an ORM session)."""
    return {
        "at": at or utcnow(),
        "user_id": principal.user_id if principal else None,
        "username": principal.username if principal else username,
        "role": principal.role.value if principal else None,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "outcome": outcome,
        "detail": detail,
    }


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
