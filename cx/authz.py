"""``require`` for services that keeps a refusal in the audit log even when the caller's transaction rolls back."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal, require
from cx.errors import PermissionDenied
from cx.models import AuditEntry


def record_denied(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
) -> None:
    """Write a ``denied`` audit row on a connection of its own (the caller's transaction is about to roll back).

    On SQLite the caller may already hold the write lock; then the row cannot be written beside it within a short
    wait, and it is added to the caller's unit of work instead (kept when the caller commits).
    """
    bind = session.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    row = audit.entry_values(principal, action, object_type=object_type, object_id=object_id, outcome="denied")
    with bind.connect() as connection:
        try:
            if sqlite:  # do not wait 30 s for a lock the caller itself may hold
                connection.exec_driver_sql("PRAGMA busy_timeout=2000")
            connection.execute(insert(AuditEntry), row)
            connection.commit()
            return
        except OperationalError:
            connection.rollback()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=30000")
                connection.commit()
    audit.record(session, principal, action, object_type=object_type, object_id=object_id, outcome="denied")


def require_audited(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
) -> Principal:
    """cx.access.require, and an audit row ``(action, denied)`` when it refuses (then PermissionDenied)."""
    try:
        return require(principal, action)
    except PermissionDenied:
        record_denied(session, principal, action, object_type=object_type, object_id=object_id)
        raise
