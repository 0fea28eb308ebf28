"""SQLAlchemy 2.0 typed models of every table in the store (schema changes go through Alembic migrations)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from cx.types import JsonType, UtcDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType, list[Any]: JsonType}


# --------------------------------------------------------------------------------------------- accounts, audit


class User(Base):
    """A person who signs in; ``role`` decides what they may see and do (cx.access)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Bumped on every change of role, team, department or active flag: open sessions re-check on their next rerun.
    auth_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserSession(Base):
    """A signed-in browser: the signed cookie names this row; revoking it signs the browser out."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    auth_method: Mapped[str] = mapped_column(String(16), default="password")


class AuditEntry(Base):
    """Who did what, when, with which outcome; never raw personal data (ids and hashes only)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str | None] = mapped_column(String(80))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any] | None]


class AppSetting(Base):
    """Small store-wide values (the session-signing secret, the default journey id, ...)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------------------------- ETL bookkeeping


class LoadBatch(Base):
    """One ETL run: what it read, loaded and quarantined, and how it ended."""

    __tablename__ = "load_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | succeeded | failed
    trigger: Mapped[str] = mapped_column(String(32), default="cli")  # cli | worker | demo | upload
    sources: Mapped[list[Any] | None]
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    profiles_created: Mapped[int] = mapped_column(Integer, default=0)
    profiles_merged: Mapped[int] = mapped_column(Integer, default=0)
    profiles_split: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any] | None]


class SourceFile(Base):
    """A file (or table) already loaded: its content hash, so incremental runs skip unchanged input."""

    __tablename__ = "source_files"
    __table_args__ = (UniqueConstraint("source", "path", name="uq_source_files_source_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    watermark: Mapped[datetime | None]
    batch_id: Mapped[int] = mapped_column(ForeignKey("load_batches.id"))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Source column -> type as read (etl.sources.raw_schema): the next file of the source is checked against it.
    columns: Mapped[dict[str, Any] | None]
    #: Size and modification time when loaded: an input with both unchanged is skipped without re-hashing it.
    size: Mapped[int | None] = mapped_column(BigInteger)
    modified_at: Mapped[datetime | None]


class QuarantinedRow(Base):
    """A source row that failed validation, kept with the reason so nothing is silently lost."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("load_batches.id"), index=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    file: Mapped[str | None] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer)
    record_id: Mapped[str | None] = mapped_column(String(255))
    column: Mapped[str | None] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)  # the row as read, JSON
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------------------------- interactions & identity


class Interaction(Base):
    """One contact, feedback or event in canonical form (cx.schema), linked to its unified profile."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_profile_occurred", "profile_id", "occurred_at"),
        Index("ix_interactions_occurred_channel", "occurred_at", "channel"),
        Index("ix_interactions_source_record", "source", "record_id", unique=True),
        # fuzzy-matching blocks of the incremental identity run (etl.identity.SqlIdentityStore); partial: few rows
        Index(
            "ix_interactions_birth_date",
            "birth_date",
            sqlite_where=text("birth_date IS NOT NULL"),
            postgresql_where=text("birth_date IS NOT NULL"),
        ),
        Index(
            "ix_interactions_postcode",
            "postcode",
            sqlite_where=text("postcode IS NOT NULL"),
            postgresql_where=text("postcode IS NOT NULL"),
        ),
    )

    interaction_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    profile_id: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(255))
    wechat_id: Mapped[str | None] = mapped_column(String(128))
    device_id: Mapped[str | None] = mapped_column(String(128))
    crm_id: Mapped[str | None] = mapped_column(String(64))
    member_id: Mapped[str | None] = mapped_column(String(64))
    social_handle: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(String(500))
    postcode: Mapped[str | None] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(64))
    touchpoint: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(100), index=True)
    queue_wait_s: Mapped[float | None] = mapped_column(Float)
    first_response_s: Mapped[float | None] = mapped_column(Float)
    handle_s: Mapped[float | None] = mapped_column(Float)
    abandoned: Mapped[bool | None] = mapped_column(Boolean)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    nps: Mapped[int | None] = mapped_column(SmallInteger)
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    ces: Mapped[int | None] = mapped_column(SmallInteger)
    extra: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Identifier(Base):
    """A normalised identifier of a profile (E.164 phone, lower-cased e-mail, ...) and where it was seen."""

    __tablename__ = "identifiers"
    __table_args__ = (
        Index("ix_identifiers_type_value", "id_type", "value"),
        UniqueConstraint("profile_id", "id_type", "value", name="uq_identifiers_profile_type_value"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # no index of its own: the unique (profile_id, id_type, value) index serves look-ups by profile id
    profile_id: Mapped[str] = mapped_column(String(40))
    id_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(255))
    sources: Mapped[list[Any] | None]
    channels: Mapped[list[Any] | None]
    records: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]


class IdentityLink(Base):
    """Why a record belongs to its profile: the rule that joined it, the identifier or fuzzy score, the peer record."""

    __tablename__ = "identity_links"

    interaction_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(40), index=True)
    rule: Mapped[str] = mapped_column(String(64))  # e.g. shared_identifier, fuzzy_name_birth_date, override_join
    id_type: Mapped[str | None] = mapped_column(String(32))
    matched_interaction_id: Mapped[str | None] = mapped_column(String(255))
    score: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None]


class IdentityOverride(Base):
    """A CX owner's manual split or join; applied on every ETL run until reverted."""

    __tablename__ = "identity_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # split | join
    #: join: the two profiles' anchor records; split: the records to move out into their own profile.
    interaction_ids: Mapped[list[Any]]
    target_interaction_ids: Mapped[list[Any] | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reverted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reverted_at: Mapped[datetime | None]


class Profile(Base):
    """One unified customer."""

    __tablename__ = "profiles"

    profile_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    name_key: Mapped[str | None] = mapped_column(String(200), index=True)  # NFKC + casefold, for name search
    primary_phone: Mapped[str | None] = mapped_column(String(32))
    primary_email: Mapped[str | None] = mapped_column(String(255))
    wechat_id: Mapped[str | None] = mapped_column(String(128))
    city: Mapped[str | None] = mapped_column(String(100))
    member_tier: Mapped[str | None] = mapped_column(String(32))
    birth_date: Mapped[date | None] = mapped_column(Date)
    channels: Mapped[list[Any] | None]
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None] = mapped_column(index=True)
    interaction_count: Mapped[int] = mapped_column(Integer, default=0)
    complaint_count: Mapped[int] = mapped_column(Integer, default=0)
    open_complaints: Mapped[int] = mapped_column(Integer, default=0)
    latest_nps: Mapped[int | None] = mapped_column(SmallInteger)
    latest_csat: Mapped[int | None] = mapped_column(SmallInteger)
    latest_ces: Mapped[int | None] = mapped_column(SmallInteger)
    nps_trend: Mapped[float | None] = mapped_column(Float)
    csat_trend: Mapped[float | None] = mapped_column(Float)
    ces_trend: Mapped[float | None] = mapped_column(Float)
    experience_score: Mapped[float | None] = mapped_column(Float)
    stage: Mapped[str | None] = mapped_column(String(64))
    risk_score: Mapped[float | None] = mapped_column(Float, index=True)
    risk_reasons: Mapped[list[Any] | None]
    segment: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfileNote(Base):
    """A note an agent left on a customer's profile."""

    __tablename__ = "profile_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(40), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suppression(Base):
    """Salted hash of an erased customer's identifier: ETL re-runs drop matching records instead of reloading them."""

    __tablename__ = "suppression_list"

    value_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    id_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(Base):
    """A service agent as the channel systems name them (agent_id on interactions)."""

    __tablename__ = "agents"

    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    department: Mapped[str | None] = mapped_column(String(64))


# --------------------------------------------------------------------------------------------- daily facts


_STOCK_COLUMNS = ("cases_opened", "cases_resolved", "customers_gained", "customers_lost")


class DailyFact(Base):
    """Counts and sums per day x channel x stage x touchpoint x department x team x agent x segment, for fast boards.

    Every KPI in cx.kpi is a function of these columns (built by etl.aggregate.daily_facts, which documents each
    one); empty dimension values are stored as '' (not NULL) so the composite key is unique on both backends.
    All measures are additive across rows except ``customers`` (distinct customers of the row only).
    """

    __tablename__ = "daily_facts"
    __table_args__ = (
        UniqueConstraint(
            "day",
            "channel",
            "stage",
            "touchpoint",
            "department",
            "team",
            "agent_id",
            "segment",
            name="uq_daily_facts_key",
        ),
        Index("ix_daily_facts_day_touchpoint", "day", "touchpoint"),
        # Covering the stock columns (backlog, retention): their sums over all earlier days are index-only scans.
        Index("ix_daily_facts_department_day", "department", "day", *_STOCK_COLUMNS),
        Index("ix_daily_facts_team_day", "team", "day", *_STOCK_COLUMNS),
        Index("ix_daily_facts_day_stock", "day", *_STOCK_COLUMNS),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    channel: Mapped[str] = mapped_column(String(16), default="")
    stage: Mapped[str] = mapped_column(String(64), default="")
    touchpoint: Mapped[str] = mapped_column(String(64), default="")
    department: Mapped[str] = mapped_column(String(64), default="")
    team: Mapped[str] = mapped_column(String(64), default="")
    agent_id: Mapped[str] = mapped_column(String(64), default="")
    segment: Mapped[str] = mapped_column(String(64), default="")
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    inbound_contacts: Mapped[int] = mapped_column(Integer, default=0)
    digital_contacts: Mapped[int] = mapped_column(Integer, default=0)
    after_hours_contacts: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)
    repeat_contacts: Mapped[int] = mapped_column(Integer, default=0)
    nps_responses: Mapped[int] = mapped_column(Integer, default=0)
    nps_promoters: Mapped[int] = mapped_column(Integer, default=0)
    nps_detractors: Mapped[int] = mapped_column(Integer, default=0)
    csat_responses: Mapped[int] = mapped_column(Integer, default=0)
    csat_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    csat_sum: Mapped[int] = mapped_column(Integer, default=0)
    ces_responses: Mapped[int] = mapped_column(Integer, default=0)
    ces_agree: Mapped[int] = mapped_column(Integer, default=0)
    ces_sum: Mapped[int] = mapped_column(Integer, default=0)
    fcr_cases: Mapped[int] = mapped_column(Integer, default=0)
    fcr_resolved: Mapped[int] = mapped_column(Integer, default=0)
    first_responses: Mapped[int] = mapped_column(Integer, default=0)
    first_response_s_sum: Mapped[float] = mapped_column(Float, default=0.0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handle_s_sum: Mapped[float] = mapped_column(Float, default=0.0)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_waits: Mapped[int] = mapped_column(Integer, default=0)
    answered_wait_s_sum: Mapped[float] = mapped_column(Float, default=0.0)
    answered_within_sl: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_short: Mapped[int] = mapped_column(Integer, default=0)
    cases_opened: Mapped[int] = mapped_column(Integer, default=0)
    cases_resolved: Mapped[int] = mapped_column(Integer, default=0)
    sla_measured: Mapped[int] = mapped_column(Integer, default=0)
    sla_breached: Mapped[int] = mapped_column(Integer, default=0)
    customers_gained: Mapped[int] = mapped_column(Integer, default=0)
    customers_lost: Mapped[int] = mapped_column(Integer, default=0)


# --------------------------------------------------------------------------------------------- journey map


class Journey(Base):
    """A journey map; ``version`` increases with every saved change (optimistic locking)."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    stages: Mapped[list[JourneyStage]] = relationship(
        back_populates="journey", order_by="JourneyStage.position", cascade="all, delete-orphan"
    )


class JourneyStage(Base):
    """A stage (scene) of a journey, e.g. pre-sale, purchase, delivery, after-sale."""

    __tablename__ = "journey_stages"
    __table_args__ = (UniqueConstraint("journey_id", "key", name="uq_journey_stages_journey_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    journey: Mapped[Journey] = relationship(back_populates="stages")
    touchpoints: Mapped[list[Touchpoint]] = relationship(
        back_populates="stage", order_by="Touchpoint.position", cascade="all, delete-orphan"
    )


class Touchpoint(Base):
    """A touchpoint of a stage: owner, channels, mapping rule (data), KPIs shown and their targets."""

    __tablename__ = "touchpoints"
    __table_args__ = (UniqueConstraint("journey_id", "key", name="uq_touchpoints_journey_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("journey_stages.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    owner_department: Mapped[str | None] = mapped_column(String(64))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channels: Mapped[list[Any] | None]
    rule: Mapped[dict[str, Any] | None]
    kpis: Mapped[list[Any] | None]
    targets: Mapped[dict[str, Any] | None]

    stage: Mapped[JourneyStage] = relationship(back_populates="touchpoints")


class JourneyVersion(Base):
    """A snapshot of a journey after each saved change: the history, and what restore goes back to."""

    __tablename__ = "journey_versions"
    __table_args__ = (UniqueConstraint("journey_id", "version", name="uq_journey_versions_journey_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]]
    summary: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------------------------- KPI boards


class BoardConfig(Base):
    """Which KPI tiles a board shows, in what order, with targets: per role/department, or one user's own."""

    __tablename__ = "board_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "department:service", "role:executive" or "user:42" (a person's own board)
    scope_key: Mapped[str] = mapped_column(String(100), unique=True)
    tiles: Mapped[list[Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------------------------- alerts


class AlertRule(Base):
    """A warning rule: validated data (alerts.rules), never code."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    definition: Mapped[dict[str, Any]]
    level: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_evaluated_at: Mapped[datetime | None]
    #: Highest interactions.batch_id already evaluated (incremental passes read only newer batches).
    watermark: Mapped[int | None] = mapped_column(BigInteger)


class Alert(Base):
    """A raised alert; ``dedup_key`` (rule + entity + window) is unique, so it is never raised twice."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_owner_status", "owner_user_id", "status"),
        Index("ix_alerts_rule_entity_created", "rule_id", "entity_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"), index=True)
    origin: Mapped[str] = mapped_column(String(16), default="rule")  # rule | manual
    title: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(16))  # info | warning | critical
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    entity_type: Mapped[str] = mapped_column(String(32))  # interaction | customer | touchpoint | channel | team | ...
    entity_id: Mapped[str] = mapped_column(String(255))
    profile_id: Mapped[str | None] = mapped_column(String(40), index=True)
    touchpoint: Mapped[str | None] = mapped_column(String(64))
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    owner_team: Mapped[str | None] = mapped_column(String(64))
    owner_department: Mapped[str | None] = mapped_column(String(64), index=True)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    due_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    root_cause: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertEvent(Base):
    """One step of an alert's timeline: created, acknowledged, assigned, commented, escalated, resolved, ..."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]


class Notification(Base):
    """The notification outbox: one row per (alert event, method, target), delivered with retries and backoff."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("dedup_key", "event", "method", "target", name="uq_notifications_delivery"),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    dedup_key: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(64))  # created | escalated:1 | ...
    method: Mapped[str] = mapped_column(String(16))  # inapp | email | webhook | wecom | dingtalk | slack
    target: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]  # in-app notifications: when the user saw it


class WorkerLease(Base):
    """Which worker process runs the scheduled jobs now (renewed while alive, taken over when it expires)."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# --------------------------------------------------------------------------------------------- voice of the customer


class TextInsight(Base):
    """What the text of one interaction says (etl.text): class, confidence, sentiment, keywords, topics, FAQ group.

    ``terms`` and ``topics`` are stored as ``|a|b|`` so an exact term is found with ``LIKE '%|term|%'``.
    """

    __tablename__ = "text_insights"
    # the FAQ groups' members by group; also covers the (question, lang, faq_id) keys an ETL run's new questions
    # are matched against (etl.text_store), read from the index alone instead of the whole table
    __table_args__ = (Index("ix_text_insights_faq_question", "faq_id", "question", "lang"),)

    interaction_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8), default="")
    label: Mapped[str] = mapped_column(String(16), index=True)  # inquiry | complaint | suggestion | praise | other
    confidence: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[float] = mapped_column(Float)  # -1 .. 1
    terms: Mapped[str] = mapped_column(Text, default="")
    topics: Mapped[str] = mapped_column(Text, default="")
    question: Mapped[str | None] = mapped_column(String(500))  # normalised question (inquiries only)
    faq_id: Mapped[int | None] = mapped_column(ForeignKey("faq_candidates.id", ondelete="SET NULL"))
    #: True when the source gave no ``kind`` and this analysis filled ``interactions.kind`` with ``label``.
    kind_filled: Mapped[bool] = mapped_column(Boolean, default=False)
    analysed_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqCandidate(Base):
    """A group of near-identical customer questions (etl.faq): the start of a shared answer library."""

    __tablename__ = "faq_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    lang: Mapped[str] = mapped_column(String(8), default="")
    title: Mapped[str] = mapped_column(String(500))  # the most frequent wording, PII patterns removed
    question: Mapped[str] = mapped_column(String(500))  # its normalised form
    keywords: Mapped[str] = mapped_column(String(500), default="")
    example_interaction_id: Mapped[str | None] = mapped_column(String(255))
    texts: Mapped[int] = mapped_column(Integer, default=0)  # members over the whole store
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VocKeyword(Base):
    """Texts per day x channel x stage x touchpoint x label mentioning a term or topic (``total``: all texts).

    Built by etl.text from text_insights + interactions; dimension values missing on the interaction are ''.
    """

    __tablename__ = "voc_keywords"
    __table_args__ = (
        UniqueConstraint(
            "day", "channel", "stage", "touchpoint", "label", "term_type", "term", name="uq_voc_keywords_key"
        ),
        Index("ix_voc_keywords_type_day", "term_type", "day"),
        Index("ix_voc_keywords_term_day", "term", "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(16), default="")
    stage: Mapped[str] = mapped_column(String(64), default="")
    touchpoint: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(String(16))
    term_type: Mapped[str] = mapped_column(String(8))  # word | topic | total
    term: Mapped[str] = mapped_column(String(100), default="")
    texts: Mapped[int] = mapped_column(Integer, default=0)
    sentiment_sum: Mapped[float] = mapped_column(Float, default=0.0)


class UserDictionaryTerm(Base):
    """A product, brand or domain term the tokenizer keeps whole; optional synonym target and topic (admins edit)."""

    __tablename__ = "user_dictionary"

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(100), unique=True)  # normalised (NFKC, lower case)
    canonical: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16), default="term")  # product | brand | term
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
