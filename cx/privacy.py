"""Data-subject requests: erase one customer everywhere (with a hashed suppression list) and export their data.

``erase_customer`` finds the customer's profile(s) by any identifier (a phone in any format, an e-mail, a WeChat,
member, CRM or device id, a social handle, or the profile id), deletes the profile, its identifiers, identity links,
interactions, quarantined rows holding its identifiers, alerts (with their events and notifications) and notes, and
adds salted hashes of every identifier to the suppression list, so re-running the ETL on old files does not bring
the customer back (etl/suppress.py). The receipt holds counts per table and no personal data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.orm import Session

from cx import audit
from cx.access import PII_FIELDS, Principal, mask_value
from cx.authz import require_audited
from cx.errors import NotFoundError, ValidationError
from cx.models import (
    Alert,
    AlertEvent,
    Identifier,
    IdentityLink,
    IdentityOverride,
    Interaction,
    Notification,
    Profile,
    ProfileNote,
    QuarantinedRow,
)
from cx.schema import STRONG_IDENTIFIERS
from cx.suppression import add_to_suppression, looks_like_phone, normalise, normalise_email, normalise_phone
from cx.types import utcnow

#: SQL ``IN`` lists are sent in chunks of this size (PostgreSQL and SQLite both cope, and plans stay small).
_CHUNK: Final = 500
#: Needles shorter than this are not searched for inside quarantined text (too many false hits).
_MIN_NEEDLE: Final = 5
_PLAIN_TYPES: Final = tuple(t for t in STRONG_IDENTIFIERS if t not in ("phone", "email"))
#: Profile columns that hold an identifier, and its type.
_PROFILE_IDENTIFIERS: Final = (("primary_phone", "phone"), ("primary_email", "email"), ("wechat_id", "wechat_id"))
#: Tables the receipt reports, in this order.
RECEIPT_TABLES: Final = (
    "profiles",
    "identifiers",
    "identity_links",
    "identity_overrides",
    "interactions",
    "quarantine",
    "alerts",
    "alert_events",
    "notifications",
    "profile_notes",
)


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


@dataclass(frozen=True)
class ErasureReceipt:
    """What an erasure removed: rows per table and suppression hashes added; no personal data, no profile ids."""

    erasure_id: str
    at: datetime
    identifier_type: str
    profiles: int
    counts: dict[str, int]
    suppressed: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


@dataclass
class _Customer:
    """Everything found about one customer while preparing an erasure or export (kept in memory only)."""

    profile_ids: set[str] = field(default_factory=set)
    interaction_ids: set[str] = field(default_factory=set)
    #: (id_type, normalised value) of the customer's own identifiers (shared values excluded).
    identifiers: set[tuple[str, str]] = field(default_factory=set)
    #: Every form of those identifiers as stored somewhere (raw and normalised), for scanning free text.
    forms: set[str] = field(default_factory=set)

    @property
    def found(self) -> bool:
        return bool(self.profile_ids or self.interaction_ids)


# --------------------------------------------------------------------------------------------- finding a customer


def classify(identifier: str, region: str = "CN") -> list[tuple[str, str]]:
    """The (id_type, normalised value) readings of what someone typed: a phone, an e-mail, or a plain id."""
    text = identifier.strip()
    if not text:
        raise ValidationError("Enter an identifier: a phone number, an e-mail, a WeChat/member/CRM/device id")
    readings: list[tuple[str, str]] = []
    phone = normalise_phone(text, region) if looks_like_phone(text) else None
    if phone:
        readings.append(("phone", phone))
    email = normalise_email(text) if "@" in text else None
    if email:
        readings.append(("email", email))
    readings.extend((id_type, text) for id_type in _PLAIN_TYPES)
    return readings


def _identifier_kind(readings: list[tuple[str, str]]) -> str:
    return readings[0][0] if readings[0][0] in ("phone", "email") else "id"


def _interaction_match(readings: Iterable[tuple[str, str]], raw: str) -> Select:
    conditions = []
    for id_type, value in readings:
        column = getattr(Interaction, id_type)
        conditions.append(column.in_({value, raw}))
    return select(Interaction.interaction_id, Interaction.profile_id).where(or_(*conditions))


def _find(session: Session, identifier: str, region: str) -> tuple[_Customer, str]:
    """The profiles and unlinked interactions the identifier points at (no closure over other identifiers yet)."""
    readings = classify(identifier, region)
    raw = identifier.strip()
    customer = _Customer()
    if session.get(Profile, raw) is not None:
        customer.profile_ids.add(raw)
    for id_type, value in readings:
        customer.profile_ids.update(
            session.scalars(
                select(Identifier.profile_id).where(Identifier.id_type == id_type, Identifier.value == value)
            )
        )
    for column, id_type in _PROFILE_IDENTIFIERS:
        values = {value for t, value in readings if t == id_type}
        if values:
            customer.profile_ids.update(
                session.scalars(select(Profile.profile_id).where(getattr(Profile, column).in_(values)))
            )
    for interaction_id, profile_id in session.execute(_interaction_match(readings, raw)):
        if profile_id:
            customer.profile_ids.add(profile_id)
        else:
            customer.interaction_ids.add(interaction_id)
    return customer, _identifier_kind(readings)


def _shared_forms(session: Session, id_type: str, forms: set[str], customer: _Customer) -> set[str]:
    """The forms that other customers' interactions or identifiers hold too (a placeholder, a family phone)."""
    shared: set[str] = set()
    column = getattr(Interaction, id_type)
    for chunk in _chunks(sorted(forms)):
        query = select(column, Interaction.interaction_id).where(column.in_(chunk))
        if customer.profile_ids:
            query = query.where(
                or_(Interaction.profile_id.is_(None), Interaction.profile_id.not_in(customer.profile_ids))
            )
        shared.update(
            value for value, interaction_id in session.execute(query) if interaction_id not in customer.interaction_ids
        )
        others = select(Identifier.value).where(Identifier.id_type == id_type, Identifier.value.in_(chunk))
        if customer.profile_ids:
            others = others.where(Identifier.profile_id.not_in(customer.profile_ids))
        shared.update(session.scalars(others))
    return shared


def _complete(session: Session, customer: _Customer, region: str) -> _Customer:
    """Add the customer's interactions and every identifier they hold (their own, not shared with strangers)."""
    profile_ids = sorted(customer.profile_ids)
    for chunk in _chunks(profile_ids):
        customer.interaction_ids.update(
            session.scalars(select(Interaction.interaction_id).where(Interaction.profile_id.in_(chunk)))
        )
        for id_type, value in session.execute(
            select(Identifier.id_type, Identifier.value).where(Identifier.profile_id.in_(chunk))
        ):
            customer.identifiers.add((id_type, value))
            customer.forms.add(value)
        for row in session.execute(
            select(*(getattr(Profile, column) for column, _ in _PROFILE_IDENTIFIERS)).where(
                Profile.profile_id.in_(chunk)
            )
        ):
            for (_, id_type), value in zip(_PROFILE_IDENTIFIERS, row, strict=True):
                normalised = normalise(id_type, value, region)
                if normalised:
                    customer.identifiers.add((id_type, normalised))
                    customer.forms.update({value, normalised})
    # Values on the customer's interactions (raw or normalised): theirs unless strangers' records hold them too.
    seen: dict[tuple[str, str], set[str]] = {}
    interaction_ids = sorted(customer.interaction_ids)
    columns = [getattr(Interaction, id_type) for id_type in STRONG_IDENTIFIERS]
    for chunk in _chunks(interaction_ids):
        for row in session.execute(select(*columns).where(Interaction.interaction_id.in_(chunk))):
            for id_type, value in zip(STRONG_IDENTIFIERS, row, strict=True):
                normalised = normalise(id_type, value, region) if value else None
                if normalised:
                    seen.setdefault((id_type, normalised), set()).update({value, normalised})
    for id_type in STRONG_IDENTIFIERS:
        candidates = {key: forms for key, forms in seen.items() if key[0] == id_type}
        if not candidates:
            continue
        shared = _shared_forms(session, id_type, set().union(*candidates.values()), customer)
        for key, forms in candidates.items():
            if key in customer.identifiers or not (forms & shared):
                customer.identifiers.add(key)
                customer.forms.update(forms)
    customer.forms = {form.strip() for form in customer.forms if form and form.strip()}
    # Records never linked to a profile that carry one of the customer's identifiers are theirs too.
    for id_type in STRONG_IDENTIFIERS:
        column = getattr(Interaction, id_type)
        values = sorted(
            {value for t, value in customer.identifiers if t == id_type}
            | {
                form
                for key, forms in seen.items()
                if key[0] == id_type and key in customer.identifiers
                for form in forms
            }
        )
        for chunk in _chunks(values):
            customer.interaction_ids.update(
                session.scalars(
                    select(Interaction.interaction_id).where(Interaction.profile_id.is_(None), column.in_(chunk))
                )
            )
    return customer


def find_customer(session: Session, principal: Principal | None, identifier: str, *, region: str = "CN") -> int:
    """How many customer profiles an identifier points at (shown before an erasure is confirmed)."""
    require_audited(session, principal, "privacy.erase", object_type="customer")
    customer, _ = _find(session, identifier, region)
    return len(customer.profile_ids) or (1 if customer.interaction_ids else 0)


# --------------------------------------------------------------------------------------------- quarantined rows


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def _holds_customer(row_text: str, customer: _Customer, needles: list[str], region: str) -> bool:
    if any(needle in row_text for needle in needles):
        return True
    try:
        values = list(_strings(json.loads(row_text)))
    except (ValueError, TypeError):
        values = [row_text]
    for value in values:
        text = value.strip()
        if not text:
            continue
        if text in customer.forms:
            return True
        if ("email", (normalise_email(text) or "")) in customer.identifiers:
            return True
        if (
            sum(c.isdigit() for c in text) >= 7
            and ("phone", normalise_phone(text, region) or "") in customer.identifiers
        ):
            return True
    return False


def _quarantined_rows(session: Session, customer: _Customer, region: str) -> list[int]:
    """Ids of quarantined rows whose raw JSON or reason holds one of the customer's identifiers (any form)."""
    if not customer.identifiers and not customer.interaction_ids:
        return []
    needles = sorted(form for form in customer.forms if len(form) >= _MIN_NEEDLE)
    hits: list[int] = []
    query = select(
        QuarantinedRow.id, QuarantinedRow.raw, QuarantinedRow.reason, QuarantinedRow.source, QuarantinedRow.record_id
    )
    for row_id, raw, reason, source, record_id in session.execute(query.execution_options(yield_per=2000)):
        own_record = bool(record_id) and f"{source}:{record_id}" in customer.interaction_ids
        in_reason = bool(reason) and any(needle in reason for needle in needles)
        if own_record or in_reason or _holds_customer(raw or "", customer, needles, region):
            hits.append(row_id)
    return hits


# --------------------------------------------------------------------------------------------- erasure


def _alert_ids(session: Session, customer: _Customer) -> list[int]:
    ids: set[int] = set()
    for chunk in _chunks(sorted(customer.profile_ids)):
        ids.update(session.scalars(select(Alert.id).where(Alert.profile_id.in_(chunk))))
        ids.update(
            session.scalars(
                select(Alert.id).where(Alert.entity_type.in_(("customer", "profile")), Alert.entity_id.in_(chunk))
            )
        )
    for chunk in _chunks(sorted(customer.interaction_ids)):
        ids.update(
            session.scalars(select(Alert.id).where(Alert.entity_type == "interaction", Alert.entity_id.in_(chunk)))
        )
    return sorted(ids)


def _delete_in(session: Session, model: type, column: Any, values: Iterable[Any]) -> int:
    total = 0
    for chunk in _chunks(sorted(set(values))):
        total += (
            session.execute(
                delete(model).where(column.in_(chunk)), execution_options={"synchronize_session": False}
            ).rowcount
            or 0
        )
    return total


def _overrides_touching(session: Session, interaction_ids: set[str]) -> list[int]:
    hits = []
    for override_id, ids, targets in session.execute(
        select(IdentityOverride.id, IdentityOverride.interaction_ids, IdentityOverride.target_interaction_ids)
    ):
        if interaction_ids.intersection(map(str, [*(ids or []), *(targets or [])])):
            hits.append(override_id)
    return hits


def erase_customer(
    session: Session, principal: Principal | None, *, identifier: str, region: str = "CN", max_profiles: int = 1
) -> ErasureReceipt:
    """Erase one customer everywhere and suppress their identifiers; returns a receipt (counts, no personal data).

    Refuses (ValidationError) when the identifier points at more than ``max_profiles`` profiles, so a shared or
    placeholder value never erases strangers: check with find_customer, then confirm with the count.
    """
    require_audited(session, principal, "privacy.erase", object_type="customer")
    customer, kind = _find(session, identifier, region)
    if len(customer.profile_ids) > max_profiles:
        raise ValidationError(
            f"The identifier matches {len(customer.profile_ids)} customer profiles; erase them one at a time by "
            f"profile id, or confirm that all {len(customer.profile_ids)} are to be erased"
        )
    _complete(session, customer, region)
    counts = dict.fromkeys(RECEIPT_TABLES, 0)
    quarantined = _quarantined_rows(session, customer, region)
    alert_ids = _alert_ids(session, customer)
    overrides = _overrides_touching(session, customer.interaction_ids)
    dedup_keys = [
        key
        for chunk in _chunks(alert_ids)
        for key in session.scalars(select(Alert.dedup_key).where(Alert.id.in_(chunk)))
    ]
    counts["notifications"] = _delete_in(session, Notification, Notification.alert_id, alert_ids) + _delete_in(
        session, Notification, Notification.dedup_key, dedup_keys
    )
    counts["alert_events"] = _delete_in(session, AlertEvent, AlertEvent.alert_id, alert_ids)
    counts["alerts"] = _delete_in(session, Alert, Alert.id, alert_ids)
    counts["profile_notes"] = _delete_in(session, ProfileNote, ProfileNote.profile_id, customer.profile_ids)
    counts["identity_overrides"] = _delete_in(session, IdentityOverride, IdentityOverride.id, overrides)
    counts["identity_links"] = _delete_in(
        session, IdentityLink, IdentityLink.interaction_id, customer.interaction_ids
    ) + _delete_in(session, IdentityLink, IdentityLink.profile_id, customer.profile_ids)
    for chunk in _chunks(sorted(customer.interaction_ids)):
        session.execute(
            update(IdentityLink)
            .where(IdentityLink.matched_interaction_id.in_(chunk))
            .values(matched_interaction_id=None),
            execution_options={"synchronize_session": False},
        )
    counts["interactions"] = _delete_in(session, Interaction, Interaction.interaction_id, customer.interaction_ids)
    counts["quarantine"] = _delete_in(session, QuarantinedRow, QuarantinedRow.id, quarantined)
    counts["identifiers"] = _delete_in(session, Identifier, Identifier.profile_id, customer.profile_ids)
    counts["profiles"] = _delete_in(session, Profile, Profile.profile_id, customer.profile_ids)
    added = add_to_suppression(session, customer.identifiers)
    receipt = ErasureReceipt(
        erasure_id=secrets.token_hex(8),
        at=utcnow(),
        identifier_type=kind,
        profiles=len(customer.profile_ids),
        counts=counts,
        suppressed=added,
    )
    audit.record(
        session,
        principal,
        "privacy.erase",
        object_type="erasure",
        object_id=receipt.erasure_id,
        outcome="ok" if customer.found else "not_found",
        detail={"identifier_type": kind, "profiles": receipt.profiles, "counts": counts, "suppressed": added},
    )
    return receipt


# --------------------------------------------------------------------------------------------- export


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(obj: Any, principal: Principal, field_names: dict[str, str] | None = None) -> dict[str, Any]:
    """A model row as JSON-ready data, each personal field as ``principal`` may see it."""
    data = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        pii_field = (field_names or {}).get(column.key, column.key)
        if pii_field in PII_FIELDS:
            value = mask_value(pii_field, value, principal.role)
        data[column.key] = _plain(value)
    return data


_PROFILE_FIELDS: Final = {"display_name": "name", "primary_phone": "phone", "primary_email": "email"}


def export_customer(
    session: Session, principal: Principal | None, profile_id: str, *, region: str = "CN"
) -> dict[str, Any]:
    """Everything held about one customer as JSON-ready data (the data-subject access request); audited."""
    require_audited(session, principal, "profile.export", object_type="profile", object_id=profile_id)
    assert principal is not None
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFoundError(f"There is no customer profile {profile_id!r}; search the customer again")
    customer = _complete(session, _Customer(profile_ids={profile_id}), region)
    interactions = session.scalars(
        select(Interaction).where(Interaction.profile_id == profile_id).order_by(Interaction.occurred_at)
    ).all()
    alert_ids = _alert_ids(session, customer)
    alerts = []
    for alert in (
        session.scalars(select(Alert).where(Alert.id.in_(alert_ids)).order_by(Alert.created_at)) if alert_ids else []
    ):
        events = session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.at))
        alerts.append({**_row(alert, principal), "events": [_row(e, principal) for e in events]})
    quarantined = _quarantined_rows(session, customer, region)
    data = {
        "format": "cx-customer-export/1",
        "exported_at": utcnow().isoformat(),
        "profile_id": profile_id,
        "profile": _row(profile, principal, _PROFILE_FIELDS),
        "identifiers": [
            _row(i, principal) | {"value": mask_value(i.id_type, i.value, principal.role)}
            for i in session.scalars(
                select(Identifier).where(Identifier.profile_id == profile_id).order_by(Identifier.id)
            )
        ],
        "interactions": [_row(i, principal) for i in interactions],
        "identity_links": [
            _row(link, principal)
            for link in session.scalars(select(IdentityLink).where(IdentityLink.profile_id == profile_id))
        ],
        "notes": [
            _row(note, principal)
            for note in session.scalars(
                select(ProfileNote).where(ProfileNote.profile_id == profile_id).order_by(ProfileNote.created_at)
            )
        ],
        "alerts": alerts,
        "quarantine": [
            _row(row, principal)
            for row in session.scalars(select(QuarantinedRow).where(QuarantinedRow.id.in_(quarantined)))
        ]
        if quarantined
        else [],
    }
    audit.record(session, principal, "profile.export", object_type="profile", object_id=profile_id)
    return data


def export_json(data: dict[str, Any]) -> bytes:
    """The export as UTF-8 JSON (indented, Chinese kept readable)."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
