"""Searching the audit log for the admin page: validated filters, server-side pages, a formula-safe export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal
from cx.authz import require_audited
from cx.errors import ValidationError
from cx.models import AuditEntry

OUTCOMES: Final = ("ok", "denied", "not_found", "failed")
PAGE_SIZES: Final = (25, 50, 100, 200)
MAX_EXPORT_ROWS: Final = 50_000
COLUMNS: Final = ("at", "username", "role", "action", "object_type", "object_id", "outcome", "detail")


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit page; empty means any. Dates are inclusive days in ``timezone``."""

    action: str | None = None
    username: str | None = None
    outcome: str | None = None
    object_id: str | None = None
    start: date | None = None
    end: date | None = None
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        problems = []
        if self.outcome and self.outcome not in OUTCOMES:
            problems.append(f"unknown outcome {self.outcome!r}; use one of {', '.join(OUTCOMES)}")
        if self.start and self.end and self.start > self.end:
            problems.append(f"the start date {self.start} is after the end date {self.end}")
        if problems:
            raise ValidationError("The audit search is not valid", problems)

    def statement(self) -> Select:
        """The filtered select, every value bound as a parameter."""
        query = select(AuditEntry)
        if self.action:
            query = query.where(AuditEntry.action == self.action.strip())
        if self.username and self.username.strip():
            query = query.where(AuditEntry.username == self.username.strip().casefold())
        if self.outcome:
            query = query.where(AuditEntry.outcome == self.outcome)
        if self.object_id and self.object_id.strip():
            query = query.where(AuditEntry.object_id == self.object_id.strip())
        zone = ZoneInfo(self.timezone)
        if self.start:
            query = query.where(AuditEntry.at >= datetime.combine(self.start, time.min, zone))
        if self.end:
            query = query.where(AuditEntry.at < datetime.combine(self.end + timedelta(days=1), time.min, zone))
        return query


@dataclass(frozen=True)
class AuditPage:
    """One page of results, newest first, and the number of matching rows in total."""

    rows: pl.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _frame(entries: list[AuditEntry], timezone: str) -> pl.DataFrame:
    zone = ZoneInfo(timezone)
    return pl.DataFrame(
        {
            "at": [e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") for e in entries],
            "username": [e.username for e in entries],
            "role": [e.role for e in entries],
            "action": [e.action for e in entries],
            "object_type": [e.object_type for e in entries],
            "object_id": [e.object_id for e in entries],
            "outcome": [e.outcome for e in entries],
            "detail": [json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else None for e in entries],
        },
        schema=dict.fromkeys(COLUMNS, pl.String),
    )


def search_audit(
    session: Session, principal: Principal | None, query: AuditQuery, *, page: int = 1, page_size: int = 50
) -> AuditPage:
    """One page of the audit log (admins only); the page number is clamped to the pages there are."""
    require_audited(session, principal, "audit.view", object_type="audit_log")
    if page_size not in PAGE_SIZES:
        raise ValidationError(f"Page size must be one of {', '.join(map(str, PAGE_SIZES))}")
    statement = query.statement()
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    entries = list(
        session.scalars(
            statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    return AuditPage(rows=_frame(entries, query.timezone), total=total, page=page, page_size=page_size)


def audit_actions(session: Session, principal: Principal | None) -> list[str]:
    """The actions that occur in the log (for the filter's choices)."""
    require_audited(session, principal, "audit.view", object_type="audit_log")
    return sorted(session.scalars(select(AuditEntry.action).distinct()))


def export_audit(session: Session, principal: Principal | None, query: AuditQuery) -> pl.DataFrame:
    """Every matching row (up to MAX_EXPORT_ROWS, newest first) for a CSV/Excel download; the export is audited.

    Make the file with cx.export.to_csv_bytes / to_excel_bytes, which neutralise formula cells.
    """
    require_audited(session, principal, "audit.view", object_type="audit_log")
    entries = list(
        session.scalars(query.statement().order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(MAX_EXPORT_ROWS))
    )
    audit.record(
        session,
        principal,
        "audit.export",
        object_type="audit_log",
        detail={
            "rows": len(entries),
            "action": query.action,
            "outcome": query.outcome,
            "start": query.start.isoformat() if query.start else None,
            "end": query.end.isoformat() if query.end else None,
        },
    )
    return _frame(entries, query.timezone)
