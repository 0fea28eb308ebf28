"""Manual identity overrides from the profile page: split records out of a profile, join two profiles, revert.

An override is stored as records (interaction ids), never as profile ids, because profile ids are the ETL's
output: the identity step (etl.identity) applies every active override on every run, so a split or join
survives re-runs, and reverting it (``reverted_at`` set) lets the next run resolve the records freely again.

- split: ``interaction_ids`` are the records to move out into a profile of their own; ``target_interaction_ids``
  are the records that stay (so the identity step can cut every link between the two sides).
- join: ``interaction_ids`` holds one anchor record of each profile (the first contact of each); the identity
  step links the two anchors' clusters. ``target_interaction_ids`` is unused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal, require
from cx.errors import ConflictError, NotFoundError, ValidationError
from cx.models import IdentityOverride, Interaction, Profile, User
from cx.types import utcnow

NOTE_MAX_CHARS: Final = 1000
#: How many of a profile's records are read to find the overrides touching it (beyond that, newest first).
_RECORDS_SCANNED: Final = 20_000


def _records_of(session: Session, profile_id: str) -> list[str]:
    """The profile's records, oldest first (index on interactions(profile_id, occurred_at))."""
    return list(
        session.scalars(
            select(Interaction.interaction_id)
            .where(Interaction.profile_id == profile_id)
            .order_by(Interaction.occurred_at, Interaction.interaction_id)
            .limit(_RECORDS_SCANNED)
        )
    )


def _require_profile(session: Session, profile_id: str) -> None:
    if session.get(Profile, profile_id) is None:
        raise NotFoundError(f"No customer profile {profile_id!r}. Search again: profiles can change after an ETL run.")


def _clean_note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > NOTE_MAX_CHARS:
        raise ValidationError(f"The reason has {len(text)} characters; keep it under {NOTE_MAX_CHARS}.")
    return text or None


def split_records(
    session: Session, principal: Principal, profile_id: str, interaction_ids: Sequence[str], note: str | None = None
) -> IdentityOverride:
    """Record that ``interaction_ids`` are a different customer than the rest of ``profile_id``.

    The records must belong to the profile and may not be all of them. Applied by the next ETL run.
    """
    require(principal, "profile.split_join")
    _require_profile(session, profile_id)
    chosen = list(dict.fromkeys(i for i in interaction_ids if i))
    if not chosen:
        raise ValidationError("Pick the records that belong to another customer.")
    records = _records_of(session, profile_id)
    owned = set(records)
    foreign = [i for i in chosen if i not in owned]
    if foreign:
        raise ValidationError(
            "Some records are not part of this profile (reload the profile)", [f"record {i}" for i in foreign[:5]]
        )
    staying = [i for i in records if i not in set(chosen)]
    if not staying:
        raise ValidationError("Every record was picked: leave at least one record in this profile.")
    override = IdentityOverride(
        kind="split",
        interaction_ids=chosen,
        target_interaction_ids=staying,
        note=_clean_note(note),
        created_by=principal.user_id,
    )
    session.add(override)
    session.flush()
    audit.record(
        session,
        principal,
        "profile.split",
        object_type="profile",
        object_id=profile_id,
        detail={"override_id": override.id, "records": len(chosen)},
    )
    return override


def join_profiles(
    session: Session, principal: Principal, profile_id: str, other_profile_id: str, note: str | None = None
) -> IdentityOverride:
    """Record that ``profile_id`` and ``other_profile_id`` are one customer. Applied by the next ETL run."""
    require(principal, "profile.split_join")
    if profile_id == other_profile_id:
        raise ValidationError("Pick another profile to join: a profile cannot be joined with itself.")
    anchors = []
    for pid in (profile_id, other_profile_id):
        _require_profile(session, pid)
        first = session.scalar(
            select(Interaction.interaction_id)
            .where(Interaction.profile_id == pid)
            .order_by(Interaction.occurred_at, Interaction.interaction_id)
            .limit(1)
        )
        if first is None:
            raise ValidationError(f"Profile {pid} has no records to join; wait for the next ETL run.")
        anchors.append(first)
    override = IdentityOverride(
        kind="join", interaction_ids=anchors, note=_clean_note(note), created_by=principal.user_id
    )
    session.add(override)
    session.flush()
    for pid, other in ((profile_id, other_profile_id), (other_profile_id, profile_id)):
        audit.record(
            session,
            principal,
            "profile.join",
            object_type="profile",
            object_id=pid,
            detail={"override_id": override.id, "other_profile": other},
        )
    return override


def revert_override(
    session: Session, principal: Principal, override_id: int, *, profile_id: str | None = None
) -> IdentityOverride:
    """Undo a split or join (kept with who reverted it and when); the next ETL run resolves the records again."""
    require(principal, "profile.split_join")
    override = session.get(IdentityOverride, override_id)
    if override is None:
        raise NotFoundError(f"No identity override #{override_id}.")
    if override.reverted_at is not None:
        raise ConflictError(f"Override #{override_id} was already reverted; reload the profile.")
    override.reverted_at = utcnow()
    override.reverted_by = principal.user_id
    audit.record(
        session,
        principal,
        "profile.override_revert",
        object_type="profile",
        object_id=profile_id,
        detail={"override_id": override_id, "kind": override.kind},
    )
    return override


def active_overrides(session: Session) -> list[IdentityOverride]:
    """Every override not reverted, oldest first (the order the identity step applies them in)."""
    return list(
        session.scalars(
            select(IdentityOverride)
            .where(IdentityOverride.reverted_at.is_(None))
            .order_by(IdentityOverride.created_at, IdentityOverride.id)
        )
    )


@dataclass(frozen=True)
class OverrideRow:
    override_id: int
    kind: str
    records: int
    note: str | None
    created_by: str | None
    created_at: datetime | None
    reverted_by: str | None
    reverted_at: datetime | None

    @property
    def active(self) -> bool:
        return self.reverted_at is None


def overrides_for(session: Session, principal: Principal, profile_id: str, *, limit: int = 20) -> list[OverrideRow]:
    """Splits and joins that touch the profile's records, newest first (active and reverted)."""
    require(principal, "profile.view")
    everything = list(session.scalars(select(IdentityOverride).order_by(IdentityOverride.created_at.desc())))
    if not everything:  # the usual case: no manual override at all, no need to read the profile's records
        return []
    records = set(_records_of(session, profile_id))
    touching = [
        o
        for o in everything
        if records.intersection(o.interaction_ids or []) or records.intersection(o.target_interaction_ids or [])
    ][:limit]
    user_ids = {o.created_by for o in touching} | {o.reverted_by for o in touching}
    user_ids.discard(None)
    names = (
        {uid: name for uid, name in session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    return [
        OverrideRow(
            override_id=o.id,
            kind=o.kind,
            records=len(o.interaction_ids or []),
            note=o.note,
            created_by=names.get(o.created_by) if o.created_by else None,
            created_at=o.created_at,
            reverted_by=names.get(o.reverted_by) if o.reverted_by else None,
            reverted_at=o.reverted_at,
        )
        for o in touching
    ]
