"""The worker lease: one row per job group says which worker process is active until when.

The active worker renews it well before it expires; when it dies, the row expires and the next worker to try takes
it. Taking and renewing are single conditional UPDATEs (or an insert-if-absent), so two workers can never both
believe they hold it — on PostgreSQL the row lock makes the loser re-check the condition and find it false.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, update
from sqlalchemy.orm import Session

from alerts.sql import insert_ignoring_conflicts
from cx.models import WorkerLease

DEFAULT_NAME = "alerts-worker"


def acquire(session: Session, holder: str, now: datetime, ttl: timedelta, name: str = DEFAULT_NAME) -> bool:
    """Take or renew the lease for ``holder`` until ``now + ttl``; False while another live holder has it."""
    result = session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, or_(WorkerLease.holder == holder, WorkerLease.expires_at <= now))
        .values(
            holder=holder,
            expires_at=now + ttl,
            acquired_at=case((WorkerLease.holder == holder, WorkerLease.acquired_at), else_=now),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        return True
    inserted = insert_ignoring_conflicts(
        session,
        WorkerLease,
        [{"name": name, "holder": holder, "acquired_at": now, "expires_at": now + ttl}],
        ["name"],
        returning="name",
    )
    return bool(inserted)


def release(session: Session, holder: str, name: str = DEFAULT_NAME) -> None:
    """Give the lease up at once (clean shutdown), so another worker need not wait for it to expire."""
    session.execute(delete(WorkerLease).where(WorkerLease.name == name, WorkerLease.holder == holder))


def current(session: Session, name: str = DEFAULT_NAME) -> WorkerLease | None:
    return session.get(WorkerLease, name)
