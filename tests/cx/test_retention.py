"""Retention settings are validated data; the job deletes exactly what is older than each category's limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from cx.db import transaction
from cx.errors import PermissionDenied, ValidationError
from cx.models import (
    AuditEntry,
    Identifier,
    Interaction,
    LoadBatch,
    Notification,
    Profile,
    QuarantinedRow,
    User,
    UserSession,
)
from cx.retention import RetentionConfig, enforce_retention, load_retention, save_retention
from tests.cx.privacy_fixtures import ADMIN, CX_OWNER

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_config_is_validated_with_every_problem_listed() -> None:
    with pytest.raises(ValidationError) as caught:
        RetentionConfig(interactions=0, quarantine=-3, audit_log=30, notifications="7", sessions=True)  # type: ignore[arg-type]
    message = str(caught.value)
    for expected in (
        "interactions must be between 1 and 36500 days, not 0",
        "quarantine must be between 1 and 36500 days, not -3",
        "audit_log must keep at least 180 days",
        "notifications must be a whole number of days",
        "sessions must be a whole number of days",
    ):
        assert expected in message
    with pytest.raises(ValidationError, match="unknown data category 'emails'"):
        RetentionConfig.from_dict({"emails": 3})
    assert RetentionConfig(interactions=None).interactions is None


def test_settings_round_trip_admin_only_and_audited(engine: Engine) -> None:
    config = RetentionConfig(interactions=400, quarantine=30, audit_log=365, notifications=60, sessions=7)
    with transaction(engine) as session:
        assert load_retention(session) == RetentionConfig()
        save_retention(session, ADMIN, config)
    with transaction(engine) as session:
        assert load_retention(session) == config
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        save_retention(session, CX_OWNER, RetentionConfig())
    with transaction(engine) as session:
        assert load_retention(session) == config
        rows = session.execute(select(AuditEntry.action, AuditEntry.outcome).order_by(AuditEntry.id)).all()
    assert rows == [("privacy.retention_settings", "ok"), ("data.admin", "denied")]


def test_enforcement_deletes_only_what_is_older(engine: Engine) -> None:
    old, new = NOW - timedelta(days=500), NOW - timedelta(days=5)
    with transaction(engine) as s:
        s.add(LoadBatch(id=1, status="succeeded"))
        s.add(User(id=1, username="u", display_name="u", role="agent"))
        s.flush()
        s.add_all(
            [
                Profile(profile_id="OLD", last_seen=old),
                Profile(profile_id="MIXED", last_seen=new),
                Interaction(
                    interaction_id="a:1", record_id="1", source="a", channel="web", occurred_at=old, profile_id="OLD"
                ),
                Interaction(
                    interaction_id="a:2", record_id="2", source="a", channel="web", occurred_at=old, profile_id="MIXED"
                ),
                Interaction(
                    interaction_id="a:3", record_id="3", source="a", channel="web", occurred_at=new, profile_id="MIXED"
                ),
                Identifier(profile_id="OLD", id_type="phone", value="+8613800138000"),
                Identifier(profile_id="MIXED", id_type="phone", value="+8613900139000"),
                QuarantinedRow(batch_id=1, source="a", rule="r", reason="x", created_at=old),
                QuarantinedRow(batch_id=1, source="a", rule="r", reason="x", created_at=new),
                Notification(
                    dedup_key="k",
                    event="created",
                    method="inapp",
                    target="t",
                    payload={},
                    status="sent",
                    created_at=old,
                ),
                Notification(
                    dedup_key="k", event="e2", method="inapp", target="t", payload={}, status="pending", created_at=old
                ),
                Notification(
                    dedup_key="k", event="e3", method="inapp", target="t", payload={}, status="sent", created_at=new
                ),
                UserSession(id="s-old", user_id=1, expires_at=old, created_at=old),
                UserSession(id="s-new", user_id=1, expires_at=NOW + timedelta(days=3), created_at=new),
                AuditEntry(at=old, action="signin"),
                AuditEntry(at=new, action="signin"),
            ]
        )
    config = RetentionConfig(interactions=365, quarantine=90, audit_log=365, notifications=90, sessions=30)
    with transaction(engine) as session:
        counts = enforce_retention(session, config, NOW)
    assert counts == {
        "identity_links": 0,
        "interactions": 2,
        "identifiers": 1,
        "profile_notes": 0,
        "profiles": 1,
        "quarantine": 1,
        "notifications": 1,
        "user_sessions": 1,
        "audit_log": 1,
    }
    with transaction(engine) as session:
        assert list(session.scalars(select(Interaction.interaction_id))) == ["a:3"]
        assert list(session.scalars(select(Profile.profile_id))) == ["MIXED"]
        assert session.scalar(select(func.count()).select_from(Notification)) == 2
        assert list(session.scalars(select(UserSession.id))) == ["s-new"]
        job = session.scalar(select(AuditEntry).where(AuditEntry.action == "privacy.retention"))
    assert job.detail == counts and job.username == "system"


def test_keep_forever_deletes_nothing(engine: Engine) -> None:
    forever = RetentionConfig(interactions=None, quarantine=None, audit_log=None, notifications=None, sessions=None)
    with transaction(engine) as session:
        assert enforce_retention(session, forever, NOW) == {}


def test_worker_job_uses_the_stored_settings(engine: Engine) -> None:
    from alerts import jobs

    job = jobs.resolve("cx.retention:run_retention_job@86400")
    with transaction(engine) as session:
        save_retention(session, ADMIN, RetentionConfig(audit_log=180))
        session.add(AuditEntry(at=NOW - timedelta(days=400), action="old"))
    counts = jobs.call(job, engine=engine, settings=None, now=NOW)  # type: ignore[arg-type]
    assert counts["audit_log"] == 1
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).where(AuditEntry.action == "old")) == 0
