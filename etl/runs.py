"""The ETL's run log for people: recent runs, quarantined rows (filtered, paginated on the server) and freshness.

What the data page reads checks ``data.admin`` (the stale-source banner of the boards: ``board.view``); the
``read_*`` variants without a principal are for the operator's command line (``python -m etl status``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx.access import Principal, Role, require
from cx.models import LoadBatch, QuarantinedRow, SourceFile
from cx.settings import Settings
from cx.types import utcnow

DEFAULT_STALE_HOURS: Final = 48.0
PAGE_SIZES: Final = (25, 50, 100)
EXPORT_LIMIT: Final = 100_000
QUARANTINE_EXPORT_COLUMNS: Final = (
    "batch_id",
    "source",
    "file",
    "line",
    "record_id",
    "column",
    "rule",
    "reason",
    "raw",
)


@dataclass(frozen=True)
class FreshnessPolicy:
    """When a source counts as stale: no load for ``stale_after`` (per-source overrides in ``per_source``).

    Built from ``settings.source_stale_hours`` (CX_SOURCE_STALE_HOURS, default 48 hours).
    """

    stale_after: timedelta = timedelta(hours=DEFAULT_STALE_HOURS)
    per_source: dict[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.stale_after <= timedelta(0) or any(v <= timedelta(0) for v in self.per_source.values()):
            from cx.errors import ConfigError

            raise ConfigError("The staleness threshold must be a positive number of hours (CX_SOURCE_STALE_HOURS)")

    def threshold(self, source: str) -> timedelta:
        return self.per_source.get(source, self.stale_after)

    @classmethod
    def from_settings(cls, settings: Settings) -> FreshnessPolicy:
        return cls(stale_after=timedelta(hours=settings.source_stale_hours))


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    last_loaded_at: datetime | None
    data_until: datetime | None
    files: int
    rows: int
    quarantined: int
    stale: bool
    threshold_hours: float


def recent_runs(session: Session, principal: Principal | None, *, limit: int = 20) -> list[LoadBatch]:
    """The latest runs, newest first (``data.admin``)."""
    require(principal, "data.admin")
    return read_recent_runs(session, limit=limit)


def read_recent_runs(session: Session, *, limit: int = 20) -> list[LoadBatch]:
    """:func:`recent_runs` without a principal: for the command line only."""
    return list(session.scalars(select(LoadBatch).order_by(LoadBatch.id.desc()).limit(limit)))


def source_freshness(
    session: Session,
    principal: Principal | None,
    settings: Settings,
    *,
    now: datetime | None = None,
    policy: FreshnessPolicy | None = None,
) -> list[SourceFreshness]:
    """Per source: when it was last loaded, how far its data reaches, and whether it is stale (``data.admin``)."""
    require(principal, "data.admin")
    return read_source_freshness(session, settings, now=now, policy=policy)


def read_source_freshness(
    session: Session, settings: Settings, *, now: datetime | None = None, policy: FreshnessPolicy | None = None
) -> list[SourceFreshness]:
    """:func:`source_freshness` without a principal: for the command line and :func:`stale_sources`."""
    now = now or utcnow()
    policy = policy or FreshnessPolicy.from_settings(settings)
    rows = session.execute(
        select(
            SourceFile.source,
            func.max(SourceFile.loaded_at),
            func.max(SourceFile.watermark),
            func.count(),
            func.sum(SourceFile.rows),
        ).group_by(SourceFile.source)
    ).all()
    quarantined = dict(
        session.execute(select(QuarantinedRow.source, func.count()).group_by(QuarantinedRow.source)).all()
    )
    out = []
    for source, loaded, until, files, total in sorted(rows):
        threshold = policy.threshold(source)
        out.append(
            SourceFreshness(
                source=source,
                last_loaded_at=loaded,
                data_until=until,
                files=int(files),
                rows=int(total or 0),
                quarantined=int(quarantined.get(source, 0)),
                stale=loaded is None or now - loaded > threshold,
                threshold_hours=threshold.total_seconds() / 3600,
            )
        )
    return out


def stale_sources(
    session: Session, principal: Principal | None, settings: Settings, *, now: datetime | None = None
) -> list[SourceFreshness]:
    """Only the stale sources (what the banner on every board names; ``board.view``)."""
    require(principal, "board.view")
    return [f for f in read_source_freshness(session, settings, now=now) if f.stale]


@dataclass(frozen=True)
class QuarantineFilter:
    source: str | None = None
    rule: str | None = None
    batch_id: int | None = None


def _filtered(query: Any, filters: QuarantineFilter) -> Any:
    if filters.source:
        query = query.where(QuarantinedRow.source == filters.source)
    if filters.rule:
        query = query.where(QuarantinedRow.rule == filters.rule)
    if filters.batch_id is not None:
        query = query.where(QuarantinedRow.batch_id == filters.batch_id)
    return query


def quarantine_options(session: Session, principal: Principal | None) -> dict[str, list[Any]]:
    """Values the filters offer: sources, rules and batches that have quarantined rows (``data.admin``)."""
    require(principal, "data.admin")
    return {
        "source": list(session.scalars(select(QuarantinedRow.source).distinct().order_by(QuarantinedRow.source))),
        "rule": list(session.scalars(select(QuarantinedRow.rule).distinct().order_by(QuarantinedRow.rule))),
        "batch_id": list(
            session.scalars(select(QuarantinedRow.batch_id).distinct().order_by(QuarantinedRow.batch_id.desc()))
        ),
    }


def _visible_raw(raw: str | None, principal: Principal | None) -> str | None:
    """The raw row holds personal data: shown to admins only (the data page is theirs); hidden otherwise."""
    if raw is None or (principal is not None and principal.role == Role.ADMIN):
        return raw
    return "(hidden)"


def quarantine_page(
    session: Session,
    principal: Principal | None,
    filters: QuarantineFilter,
    *,
    page: int = 0,
    page_size: int = 50,
) -> tuple[pl.DataFrame, int]:
    """One page of quarantined rows (newest first) and the total count for ``filters`` (``data.admin``)."""
    require(principal, "data.admin")
    page_size = page_size if page_size in PAGE_SIZES else 50
    total = int(session.scalar(_filtered(select(func.count()).select_from(QuarantinedRow), filters)) or 0)
    rows = session.execute(
        _filtered(select(QuarantinedRow), filters)
        .order_by(QuarantinedRow.batch_id.desc(), QuarantinedRow.source, QuarantinedRow.file, QuarantinedRow.line)
        .offset(max(page, 0) * page_size)
        .limit(page_size)
    ).scalars()
    return _frame(rows, principal), total


def quarantine_export(
    session: Session, principal: Principal | None, filters: QuarantineFilter, *, limit: int = EXPORT_LIMIT
) -> pl.DataFrame:
    """The quarantined rows for ``filters`` (at most ``limit``), for a CSV/Excel download via cx.export
    (``data.admin`` and ``data.export``; the caller audits the export)."""
    require(principal, "data.admin")
    require(principal, "data.export")
    rows = session.execute(
        _filtered(select(QuarantinedRow), filters)
        .order_by(QuarantinedRow.batch_id.desc(), QuarantinedRow.source, QuarantinedRow.file, QuarantinedRow.line)
        .limit(limit)
    ).scalars()
    return _frame(rows, principal)


def _frame(rows: Any, principal: Principal | None) -> pl.DataFrame:
    records = [
        {
            "batch_id": r.batch_id,
            "source": r.source,
            "file": os.path.basename(r.file) if r.file else None,
            "line": r.line,
            "record_id": r.record_id,
            "column": r.column,
            "rule": r.rule,
            "reason": r.reason,
            "raw": _visible_raw(r.raw, principal),
        }
        for r in rows
    ]
    schema = {
        "batch_id": pl.Int64,
        "source": pl.String,
        "file": pl.String,
        "line": pl.Int64,
        "record_id": pl.String,
        "column": pl.String,
        "rule": pl.String,
        "reason": pl.String,
        "raw": pl.String,
    }
    return pl.DataFrame(records, schema=schema, orient="row") if records else pl.DataFrame(schema=schema)


def runs_frame(runs: list[LoadBatch]) -> pl.DataFrame:
    """Runs as a frame for a table (durations in seconds, times aware UTC)."""
    schema = {
        "id": pl.Int64,
        "started_at": pl.Datetime("us", "UTC"),
        "status": pl.String,
        "trigger": pl.String,
        "rows_read": pl.Int64,
        "rows_loaded": pl.Int64,
        "rows_quarantined": pl.Int64,
        "profiles_created": pl.Int64,
        "profiles_merged": pl.Int64,
        "duration_s": pl.Float64,
        "message": pl.String,
    }
    return pl.DataFrame(
        [
            {
                "id": r.id,
                "started_at": r.started_at,
                "status": r.status,
                "trigger": r.trigger,
                "rows_read": r.rows_read,
                "rows_loaded": r.rows_loaded,
                "rows_quarantined": r.rows_quarantined,
                "profiles_created": r.profiles_created,
                "profiles_merged": r.profiles_merged,
                "duration_s": r.duration_s,
                "message": r.message,
            }
            for r in runs
        ],
        schema=schema,
        orient="row",
    )
