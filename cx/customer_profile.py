"""Everything the customer profile page shows, already masked for the viewer's role, plus notes.

Masking happens here, in the service layer, so no cache, export or page ever holds a value the role must not
see. Reads use the indexes on ``profiles`` (primary key), ``identifiers.profile_id``,
``interactions(profile_id, occurred_at)``, ``identity_links.profile_id``, ``alerts.profile_id`` and
``profile_notes.profile_id``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal, Role, mask_email, mask_phone, mask_value, require, sees_unmasked
from cx.authz import require_audited
from cx.errors import NotFoundError, ValidationError
from cx.models import (
    Agent,
    Alert,
    AlertRule,
    Identifier,
    IdentityLink,
    Interaction,
    JourneyStage,
    Profile,
    ProfileNote,
    Touchpoint,
    User,
)

OPEN_ALERT_STATUSES: Final = ("open", "acknowledged", "in_progress")
#: Identifier type -> the PII field whose masking rule applies (types not listed are not personal data).
ID_TYPE_FIELD: Final = {
    "phone": "phone",
    "email": "email",
    "wechat_id": "wechat_id",
    "social_handle": "social_handle",
    "name": "name",
    "address": "address",
}
NOTE_MAX_CHARS: Final = 2000
TIMELINE_PAGE: Final = 25
EVIDENCE_LIMIT: Final = 300

_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_IN_TEXT = re.compile(r"(?<![\w])\+?\d[\d \-]{5,}\d(?![\w])")


# --------------------------------------------------------------------------------------------- masking helpers


def mask_identifier(id_type: str, value: str | None, role: Role) -> str | None:
    """An identifier's value as ``role`` may see it."""
    field = ID_TYPE_FIELD.get(id_type)
    if value is None or field is None:
        return value
    return mask_value(field, value, role)  # type: ignore[return-value]


def redact_text(text: str | None, role: Role) -> str | None:
    """Free text (a transcript, a note) with e-mail addresses and phone numbers masked for roles that may not
    see them (``call me on 13800138000`` -> ``call me on 138****8000``)."""
    if not text:
        return text
    if not sees_unmasked(role, "email"):
        text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), text)
    if not sees_unmasked(role, "phone"):
        text = _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
    return text


@dataclass(frozen=True)
class RiskReason:
    """One reason of the risk score, as etl.profiles stores it: ``{"code", "points", "value"}``."""

    code: str
    points: float | None
    value: Any


def _reasons(raw: Any) -> list[RiskReason]:
    """Risk reasons as stored by the ETL (dicts with code/points/value; plain strings tolerated)."""
    if not raw:
        return []
    reasons: list[RiskReason] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, dict):
            code = item.get("code") or item.get("reason")
            points = item.get("points")
            if code:
                reasons.append(
                    RiskReason(str(code), float(points) if isinstance(points, int | float) else None, item.get("value"))
                )
        elif item is not None:
            reasons.append(RiskReason(str(item), None, None))
    return sorted(reasons, key=lambda r: -(r.points or 0))


# --------------------------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class ProfileHeader:
    profile_id: str
    name: str | None
    phone: str | None
    email: str | None
    wechat_id: str | None
    birth_date: Any
    city: str | None
    member_tier: str | None
    segment: str | None
    customer_since: datetime | None
    last_contact: datetime | None
    channels: list[str]
    stage: str | None
    interactions: int
    complaints: int
    open_complaints: int


@dataclass(frozen=True)
class Scores:
    nps: int | None
    csat: int | None
    ces: int | None
    nps_trend: float | None
    csat_trend: float | None
    ces_trend: float | None
    experience: float | None


#: Risk score (0-100, etl.profiles) from which a customer counts as high / medium risk.
RISK_HIGH: Final = 50.0
RISK_MEDIUM: Final = 25.0


@dataclass(frozen=True)
class Risk:
    score: float | None  # 0-100
    reasons: list[RiskReason]

    @property
    def level(self) -> str | None:
        """high | medium | low (None when the score is unknown)."""
        if self.score is None:
            return None
        return "high" if self.score >= RISK_HIGH else "medium" if self.score >= RISK_MEDIUM else "low"


@dataclass(frozen=True)
class IdentifierRow:
    id_type: str
    value: str | None
    sources: list[str]
    channels: list[str]
    records: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class AlertRow:
    alert_id: int
    title: str | None
    level: str
    status: str
    origin: str
    rule: str | None
    owner: str | None
    owner_team: str | None
    created_at: datetime | None
    due_at: datetime | None


@dataclass(frozen=True)
class RuleCount:
    rule_id: int | None
    rule: str
    alerts: int
    last_at: datetime | None


@dataclass(frozen=True)
class TopicCount:
    topic: str
    kind: str  # "voc" (text analysis), "touchpoint" or "kind" (from the contacts themselves)
    contacts: int
    complaints: int | None = None  # voc only: how many of these texts were complaints
    sentiment: float | None = None  # voc only: mean sentiment, -1 .. 1


@dataclass(frozen=True)
class NoteRow:
    note_id: int
    author: str | None
    text: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class ProfileView:
    """The profile page's data, masked for ``role``."""

    role: Role
    header: ProfileHeader
    scores: Scores
    risk: Risk
    identifiers: list[IdentifierRow]
    open_alerts: list[AlertRow]
    top_rules: list[RuleCount]
    topics: list[TopicCount]
    notes: list[NoteRow]
    can_split_join: bool
    can_escalate: bool
    can_note: bool
    #: touchpoint and stage key -> (English, Chinese) names from the journey map, for labels
    labels: dict[str, tuple[str, str]]

    def label(self, key: str | None, language: str) -> str:
        if not key:
            return ""
        names = self.labels.get(key)
        return (names[1] if language == "zh" else names[0]) if names else key


def _profile(session: Session, profile_id: str) -> Profile:
    profile = session.get(Profile, profile_id) if profile_id else None
    if profile is None:
        raise NotFoundError(f"No customer profile {profile_id!r}. Search again: profiles can merge after an ETL run.")
    return profile


def _header(profile: Profile, role: Role) -> ProfileHeader:
    def masked(field: str, value: Any) -> Any:
        return mask_value(field, value, role)

    return ProfileHeader(
        profile_id=profile.profile_id,
        name=masked("name", profile.display_name),
        phone=masked("phone", profile.primary_phone),
        email=masked("email", profile.primary_email),
        wechat_id=masked("wechat_id", profile.wechat_id),
        birth_date=masked("birth_date", profile.birth_date),
        city=profile.city,
        member_tier=profile.member_tier,
        segment=profile.segment,
        customer_since=profile.first_seen,
        last_contact=profile.last_seen,
        channels=[str(c) for c in (profile.channels or [])],
        stage=profile.stage,
        interactions=profile.interaction_count or 0,
        complaints=profile.complaint_count or 0,
        open_complaints=profile.open_complaints or 0,
    )


def _identifiers(session: Session, profile_id: str, role: Role) -> list[IdentifierRow]:
    rows = session.scalars(
        select(Identifier).where(Identifier.profile_id == profile_id).order_by(Identifier.id_type, Identifier.value)
    )
    return [
        IdentifierRow(
            id_type=row.id_type,
            value=mask_identifier(row.id_type, row.value, role),
            sources=[str(s) for s in (row.sources or [])],
            channels=[str(c) for c in (row.channels or [])],
            records=row.records or 0,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
        )
        for row in rows
    ]


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    ids.discard(None)  # type: ignore[arg-type]
    if not ids:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))}


def _open_alerts(session: Session, profile_id: str, role: Role) -> list[AlertRow]:
    rows = session.execute(
        select(Alert, AlertRule.name)
        .outerjoin(AlertRule, AlertRule.id == Alert.rule_id)
        .where(Alert.profile_id == profile_id, Alert.status.in_(OPEN_ALERT_STATUSES))
        .order_by(Alert.created_at.desc())
        .limit(50)
    ).all()
    names = _user_names(session, {alert.owner_user_id for alert, _ in rows})
    level_order = {"critical": 0, "warning": 1, "info": 2}
    result = [
        AlertRow(
            alert_id=alert.id,
            title=redact_text(alert.title, role),
            level=alert.level,
            status=alert.status,
            origin=alert.origin,
            rule=rule_name,
            owner=names.get(alert.owner_user_id) if alert.owner_user_id else None,
            owner_team=alert.owner_team,
            created_at=alert.created_at,
            due_at=alert.due_at,
        )
        for alert, rule_name in rows
    ]
    result.sort(key=lambda a: level_order.get(a.level, 3))
    return result


def _top_rules(session: Session, profile_id: str, limit: int = 5) -> list[RuleCount]:
    """The warning rules that fired most often for this customer (manual escalations counted as one group)."""
    count = func.count(Alert.id)
    rows = session.execute(
        select(Alert.rule_id, AlertRule.name, Alert.origin, count, func.max(Alert.created_at))
        .outerjoin(AlertRule, AlertRule.id == Alert.rule_id)
        .where(Alert.profile_id == profile_id)
        .group_by(Alert.rule_id, AlertRule.name, Alert.origin)
        .order_by(count.desc())
        .limit(limit)
    ).all()
    return [
        RuleCount(
            rule_id=rule_id, rule=name or ("manual" if origin == "manual" else "deleted rule"), alerts=n, last_at=at
        )
        for rule_id, name, origin, n, at in rows
    ]


def _topics(session: Session, profile_id: str, limit: int = 8) -> list[TopicCount]:
    """Topics the customer raised: from the voice-of-the-customer text analysis (cx.voc) when it has analysed
    their texts, else the touchpoints and kinds of their contacts."""
    try:
        from cx.voc import topics_for_profile
    except ImportError:  # pragma: no cover - the VoC module ships with the product
        topics_for_profile = None
    if topics_for_profile is not None:
        mentions = topics_for_profile(session, profile_id)
        if mentions:
            return [
                TopicCount(m.topic, "voc", m.texts, complaints=m.complaints, sentiment=m.sentiment)
                for m in mentions[:limit]
            ]
    count = func.count()
    touchpoints = session.execute(
        select(Interaction.touchpoint, count)
        .where(Interaction.profile_id == profile_id, Interaction.touchpoint.is_not(None))
        .group_by(Interaction.touchpoint)
        .order_by(count.desc())
        .limit(limit)
    ).all()
    kinds = session.execute(
        select(Interaction.kind, count)
        .where(Interaction.profile_id == profile_id, Interaction.kind.is_not(None))
        .group_by(Interaction.kind)
        .order_by(count.desc())
    ).all()
    return [TopicCount(str(tp), "touchpoint", n) for tp, n in touchpoints] + [
        TopicCount(str(kind), "kind", n) for kind, n in kinds
    ]


def _notes(session: Session, profile_id: str, role: Role, limit: int = 50) -> list[NoteRow]:
    rows = session.execute(
        select(ProfileNote, User.display_name)
        .outerjoin(User, User.id == ProfileNote.author_id)
        .where(ProfileNote.profile_id == profile_id)
        .order_by(ProfileNote.created_at.desc(), ProfileNote.id.desc())
        .limit(limit)
    ).all()
    return [NoteRow(note.id, author, redact_text(note.text, role), note.created_at) for note, author in rows]


def journey_labels(session: Session) -> dict[str, tuple[str, str]]:
    """Touchpoint and stage keys of the journey map with their English and Chinese names."""
    labels = {
        key: (en, zh)
        for key, en, zh in session.execute(select(JourneyStage.key, JourneyStage.name_en, JourneyStage.name_zh))
    }
    labels.update(
        {
            key: (en, zh)
            for key, en, zh in session.execute(select(Touchpoint.key, Touchpoint.name_en, Touchpoint.name_zh))
        }
    )
    return labels


def profile_data(session: Session, principal: Principal, profile_id: str) -> ProfileView:
    """The profile's data without auditing (``view_profile`` is the audited entry point)."""
    require(principal, "profile.view")
    profile = _profile(session, profile_id)
    role = principal.role
    return ProfileView(
        role=role,
        header=_header(profile, role),
        scores=Scores(
            nps=profile.latest_nps,
            csat=profile.latest_csat,
            ces=profile.latest_ces,
            nps_trend=profile.nps_trend,
            csat_trend=profile.csat_trend,
            ces_trend=profile.ces_trend,
            experience=profile.experience_score,
        ),
        risk=Risk(profile.risk_score, _reasons(profile.risk_reasons)),
        identifiers=_identifiers(session, profile_id, role),
        open_alerts=_open_alerts(session, profile_id, role),
        top_rules=_top_rules(session, profile_id),
        topics=_topics(session, profile_id),
        notes=_notes(session, profile_id, role),
        can_split_join=principal.can("profile.split_join"),
        can_escalate=principal.can("alert.raise"),
        can_note=principal.can("profile.note"),
        labels=journey_labels(session),
    )


def view_profile(session: Session, principal: Principal, profile_id: str) -> ProfileView:
    """Open a profile: check ``profile.view``, load it masked for the role, and audit the view (ids only).

    Raises PermissionDenied (audited as denied) or NotFoundError.
    """
    # a refusal is audited on a connection of its own: the PermissionDenied rolls the caller's transaction back
    require_audited(session, principal, "profile.view", object_type="profile", object_id=profile_id)
    try:
        view = profile_data(session, principal, profile_id)
    except NotFoundError:
        audit.record(session, principal, "profile.view", object_type="profile", object_id=profile_id, outcome="missing")
        raise
    audit.record(session, principal, "profile.view", object_type="profile", object_id=profile_id)
    return view


# --------------------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class TimelineEntry:
    interaction_id: str
    occurred_at: datetime
    channel: str
    source: str
    kind: str | None
    direction: str | None
    stage: str | None
    touchpoint: str | None
    text: str | None
    agent: str | None
    team: str | None
    outcome: str | None  # resolved | unresolved | abandoned | None
    nps: int | None
    csat: int | None
    ces: int | None
    handle_s: float | None
    case_id: str | None


@dataclass(frozen=True)
class TimelineCursor:
    """Where the next (older) page starts: the last entry's time and id."""

    occurred_at: datetime
    interaction_id: str


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    total: int
    next_cursor: TimelineCursor | None


def _outcome(abandoned: bool | None, resolved: bool | None) -> str | None:
    if abandoned:
        return "abandoned"
    if resolved is None:
        return None
    return "resolved" if resolved else "unresolved"


def timeline(
    session: Session,
    principal: Principal,
    profile_id: str,
    *,
    channels: Sequence[str] = (),
    kinds: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = TIMELINE_PAGE,
    before: TimelineCursor | None = None,
) -> TimelinePage:
    """Every contact of the customer, newest first, filtered by channel, kind and period [since, until),
    one page at a time (keyset pagination on the (profile_id, occurred_at) index)."""
    require(principal, "profile.view")
    if limit < 1 or limit > 500:
        raise ValidationError(f"A timeline page holds 1 to 500 entries, not {limit}.")
    conditions = [Interaction.profile_id == profile_id]
    if channels:
        conditions.append(Interaction.channel.in_(list(channels)))
    if kinds:
        conditions.append(Interaction.kind.in_(list(kinds)))
    if since is not None:
        conditions.append(Interaction.occurred_at >= since)
    if until is not None:
        conditions.append(Interaction.occurred_at < until)
    total = session.scalar(select(func.count()).select_from(Interaction).where(*conditions)) or 0
    page_conditions = list(conditions)
    if before is not None:
        page_conditions.append(
            or_(
                Interaction.occurred_at < before.occurred_at,
                and_(Interaction.occurred_at == before.occurred_at, Interaction.interaction_id < before.interaction_id),
            )
        )
    rows = session.execute(
        select(Interaction, Agent.name)
        .outerjoin(Agent, Agent.agent_id == Interaction.agent_id)
        .where(*page_conditions)
        .order_by(Interaction.occurred_at.desc(), Interaction.interaction_id.desc())
        .limit(limit + 1)
    ).all()
    role = principal.role
    entries = [
        TimelineEntry(
            interaction_id=row.interaction_id,
            occurred_at=row.occurred_at,
            channel=row.channel,
            source=row.source,
            kind=row.kind,
            direction=row.direction,
            stage=row.stage,
            touchpoint=row.touchpoint,
            text=redact_text(row.text, role),
            agent=agent_name or row.agent_id,
            team=row.team,
            outcome=_outcome(row.abandoned, row.resolved),
            nps=row.nps,
            csat=row.csat,
            ces=row.ces,
            handle_s=row.handle_s,
            case_id=row.case_id,
        )
        for row, agent_name in rows[:limit]
    ]
    more = len(rows) > limit
    cursor = TimelineCursor(entries[-1].occurred_at, entries[-1].interaction_id) if more and entries else None
    return TimelinePage(entries, total, cursor)


# --------------------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class EvidenceRow:
    """Why one record belongs to this customer (an ``identity_links`` row, masked for the role)."""

    interaction_id: str
    source: str | None
    channel: str | None
    occurred_at: datetime | None
    rule: str  # shared_identifier | shared_identifier_name | fuzzy_name_* | override_join | override_split | single_record
    id_type: str | None  # the strongest identifier shared with the matched record
    shared_value: str | None  # this record's value of that identifier, masked for the role
    shared_types: list[str]  # every identifier type this record shares with the profile
    matched_interaction_id: str | None
    score: float | None  # fuzzy name similarity (0-1)
    fuzzy: dict[str, Any] | None  # per-attribute evidence of a fuzzy link (name, birth_date, postcode, address)
    override_id: int | None


_ID_COLUMNS: Final = {
    "phone": Interaction.phone,
    "email": Interaction.email,
    "wechat_id": Interaction.wechat_id,
    "device_id": Interaction.device_id,
    "crm_id": Interaction.crm_id,
    "member_id": Interaction.member_id,
    "social_handle": Interaction.social_handle,
}


def _detail(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def evidence(
    session: Session, principal: Principal, profile_id: str, *, limit: int = EVIDENCE_LIMIT
) -> list[EvidenceRow]:
    """The identity links of the profile's records, newest first: shared identifier or fuzzy match with its score."""
    require(principal, "profile.view")
    rows = session.execute(
        select(
            IdentityLink,
            Interaction.source,
            Interaction.channel,
            Interaction.occurred_at,
            *_ID_COLUMNS.values(),
        )
        .outerjoin(Interaction, Interaction.interaction_id == IdentityLink.interaction_id)
        .where(IdentityLink.profile_id == profile_id)
        .order_by(Interaction.occurred_at.desc(), IdentityLink.interaction_id)
        .limit(limit)
    ).all()
    role = principal.role
    result = []
    for row in rows:
        link = row[0]
        values = dict(zip(_ID_COLUMNS, row[4:], strict=True))
        detail = _detail(link.detail)
        raw_value = values.get(link.id_type or "") or detail.get("value")
        fuzzy = detail.get("fuzzy") if isinstance(detail.get("fuzzy"), dict) else None
        override_id = detail.get("override_id")
        result.append(
            EvidenceRow(
                interaction_id=link.interaction_id,
                source=row.source,
                channel=row.channel,
                occurred_at=row.occurred_at,
                rule=link.rule,
                id_type=link.id_type,
                shared_value=mask_identifier(link.id_type, str(raw_value), role)
                if raw_value and link.id_type
                else None,
                shared_types=[str(t) for t in detail.get("shared") or []],
                matched_interaction_id=link.matched_interaction_id,
                score=link.score,
                fuzzy=fuzzy,
                override_id=override_id if isinstance(override_id, int) else None,
            )
        )
    return result


# --------------------------------------------------------------------------------------------- actions


def add_note(session: Session, principal: Principal, profile_id: str, text: str) -> ProfileNote:
    """Add an agent note to the profile (audited with the note id, never its text)."""
    require(principal, "profile.note")
    _profile(session, profile_id)
    body = (text or "").strip()
    if not body:
        raise ValidationError("The note is empty: write what the customer needs or what you did.")
    if len(body) > NOTE_MAX_CHARS:
        raise ValidationError(f"The note has {len(body)} characters; keep it under {NOTE_MAX_CHARS}.")
    note = ProfileNote(profile_id=profile_id, author_id=principal.user_id, text=body)
    session.add(note)
    session.flush()
    audit.record(
        session, principal, "profile.note", object_type="profile", object_id=profile_id, detail={"note_id": note.id}
    )
    return note


def record_escalation(session: Session, principal: Principal, profile_id: str, alert_id: int, level: str) -> None:
    """Audit an escalation raised from the profile (the alert itself is made by alerts.lifecycle; ``alert.raise``)."""
    require(principal, "alert.raise")
    audit.record(
        session,
        principal,
        "profile.escalate",
        object_type="profile",
        object_id=profile_id,
        detail={"alert_id": alert_id, "level": level},
    )


def profile_exists(session: Session, profile_id: str) -> bool:
    return session.scalar(select(Profile.profile_id).where(Profile.profile_id == profile_id)) is not None
