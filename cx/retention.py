"""How long each category of data is kept (validated, stored in app_settings) and the job that deletes older rows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine, delete, exists, or_, select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal
from cx.authz import require_audited
from cx.db import transaction
from cx.errors import ValidationError
from cx.models import (
    AppSetting,
    AuditEntry,
    Identifier,
    IdentityLink,
    Interaction,
    Notification,
    Profile,
    ProfileNote,
    QuarantinedRow,
    UserSession,
)

SETTING_KEY: Final = "retention"
MAX_DAYS: Final = 36_500
#: The audit log must cover at least this long (accountability outlives most other data).
MIN_AUDIT_DAYS: Final = 180
#: Sessions may not be purged before they could have expired.
MIN_SESSION_DAYS: Final = 1


@dataclass(frozen=True)
class RetentionConfig:
    """Days to keep each data category; ``None`` keeps it forever. Validated when built."""

    interactions: int | None = 1095
    quarantine: int | None = 90
    audit_log: int | None = 730
    notifications: int | None = 180
    sessions: int | None = 30

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(f"{f.name} must be a whole number of days or empty (keep forever), not {value!r}")
            elif not 1 <= value <= MAX_DAYS:
                problems.append(f"{f.name} must be between 1 and {MAX_DAYS} days, not {value}")
        if (
            isinstance(self.audit_log, int)
            and not isinstance(self.audit_log, bool)
            and 0 < self.audit_log < MIN_AUDIT_DAYS
        ):
            problems.append(
                f"audit_log must keep at least {MIN_AUDIT_DAYS} days (accountability), not {self.audit_log}"
            )
        if problems:
            raise ValidationError("The retention settings are not valid", problems)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetentionConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValidationError(
                "The retention settings are not valid",
                [
                    f"unknown data category {name!r}; use {', '.join(f.name for f in fields(cls))}"
                    for name in sorted(unknown)
                ],
            )
        return cls(**data)

    def as_dict(self) -> dict[str, int | None]:
        return asdict(self)


def load_retention(session: Session) -> RetentionConfig:
    """The stored retention settings, or the defaults."""
    row = session.get(AppSetting, SETTING_KEY)
    return RetentionConfig.from_dict(json.loads(row.value)) if row else RetentionConfig()


def retention_settings(session: Session, principal: Principal | None) -> RetentionConfig:
    """The stored retention settings, for the admin page (data.admin)."""
    require_audited(session, principal, "data.admin", object_type="setting", object_id=SETTING_KEY)
    return load_retention(session)


def save_retention(session: Session, principal: Principal | None, config: RetentionConfig) -> None:
    """Store new retention settings (admins only; audited)."""
    require_audited(session, principal, "data.admin", object_type="setting", object_id=SETTING_KEY)
    row = session.get(AppSetting, SETTING_KEY)
    value = json.dumps(config.as_dict(), sort_keys=True)
    if row is None:
        session.add(AppSetting(key=SETTING_KEY, value=value))
    else:
        row.value = value
    audit.record(
        session,
        principal,
        "privacy.retention_settings",
        object_type="setting",
        object_id=SETTING_KEY,
        detail=config.as_dict(),
    )


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def enforce_retention(session: Session, config: RetentionConfig, now: datetime) -> dict[str, int]:
    """Delete what is older than its category's retention; returns rows deleted per table (audited, no data).

    Interactions older than the limit go with their identity links; profiles left without any interaction and
    not seen since the limit go with their identifiers and notes. Notifications still pending are kept.
    """
    counts: dict[str, int] = {}
    options = {"synchronize_session": False}
    if config.interactions is not None:
        cutoff = now - timedelta(days=config.interactions)
        old = select(Interaction.interaction_id).where(Interaction.occurred_at < cutoff)
        counts["identity_links"] = _count(
            session.execute(delete(IdentityLink).where(IdentityLink.interaction_id.in_(old)), execution_options=options)
        )
        counts["interactions"] = _count(
            session.execute(delete(Interaction).where(Interaction.occurred_at < cutoff), execution_options=options)
        )
        orphan = select(Profile.profile_id).where(
            or_(Profile.last_seen.is_(None), Profile.last_seen < cutoff),
            ~exists().where(Interaction.profile_id == Profile.profile_id),
        )
        orphans = list(session.scalars(orphan))
        for model, column in ((Identifier, Identifier.profile_id), (ProfileNote, ProfileNote.profile_id)):
            counts[model.__tablename__] = 0
            for start in range(0, len(orphans), 500):
                chunk = orphans[start : start + 500]
                counts[model.__tablename__] += _count(
                    session.execute(delete(model).where(column.in_(chunk)), execution_options=options)
                )
        counts["profiles"] = 0
        for start in range(0, len(orphans), 500):
            chunk = orphans[start : start + 500]
            counts["profiles"] += _count(
                session.execute(delete(Profile).where(Profile.profile_id.in_(chunk)), execution_options=options)
            )
    if config.quarantine is not None:
        cutoff = now - timedelta(days=config.quarantine)
        counts["quarantine"] = _count(
            session.execute(delete(QuarantinedRow).where(QuarantinedRow.created_at < cutoff), execution_options=options)
        )
    if config.notifications is not None:
        cutoff = now - timedelta(days=config.notifications)
        counts["notifications"] = _count(
            session.execute(
                delete(Notification).where(Notification.created_at < cutoff, Notification.status != "pending"),
                execution_options=options,
            )
        )
    if config.sessions is not None:
        cutoff = now - timedelta(days=config.sessions)
        counts["user_sessions"] = _count(
            session.execute(
                delete(UserSession).where(or_(UserSession.expires_at < cutoff, UserSession.revoked_at < cutoff)),
                execution_options=options,
            )
        )
    if config.audit_log is not None:
        cutoff = now - timedelta(days=config.audit_log)
        counts["audit_log"] = _count(
            session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff), execution_options=options)
        )
    audit.record(
        session,
        None,
        "privacy.retention",
        object_type="job",
        object_id="retention",
        detail=counts,
        username="system",
        at=now,
    )
    return counts


def run_retention_now(session: Session, principal: Principal | None, now: datetime) -> dict[str, int]:
    """An admin runs the retention job by hand with the stored settings (the worker runs it on schedule)."""
    require_audited(session, principal, "data.admin", object_type="job", object_id="retention")
    return enforce_retention(session, load_retention(session), now)


def run_retention_job(engine: Engine, now: datetime) -> dict[str, int]:
    """The worker's job (alerts.jobs: ``"cx.retention:run_retention_job@86400"``): stored settings, one transaction."""
    with transaction(engine) as session:
        return enforce_retention(session, load_retention(session), now)
