"""Journeys in the store: load, seed the default, edit with optimistic locking (version numbers), history, restore."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal, require
from cx.authz import require_audited
from cx.errors import ConflictError, NotFoundError, ValidationError
from cx.models import Journey, JourneyStage, JourneyVersion, Touchpoint, User
from cx.types import utcnow

if TYPE_CHECKING:
    from cx.journey import JourneyChange, JourneyModel, TouchpointModel
    from cx.journey_rules import Rule

_J = Journey.__table__
_S = JourneyStage.__table__
_T = Touchpoint.__table__
_V = JourneyVersion.__table__


class JourneyConflictError(ConflictError):
    """An edit was based on a stale version: nothing was saved; ``changes`` says what others changed meanwhile."""

    def __init__(
        self,
        message: str,
        *,
        key: str,
        expected_version: int,
        current_version: int,
        changes: list[JourneyChange],
        since: list[JourneyVersionInfo],
    ) -> None:
        super().__init__(message)
        self.key = key
        self.expected_version = expected_version
        self.current_version = current_version
        self.changes = changes
        self.since = since


class NothingChangedError(ValidationError):
    """An edit or restore would leave the journey exactly as it is; nothing was saved."""


@dataclass(frozen=True)
class JourneyVersionInfo:
    """One entry of a journey's history."""

    version: int
    summary: str | None
    changed_by: int | None
    changed_by_name: str | None
    changed_at: datetime


# --------------------------------------------------------------------------------------------- reading


def journey_keys(session: Session) -> list[str]:
    """Keys of the journeys in the store."""
    return list(session.scalars(select(_J.c.key).order_by(_J.c.id)))


def _read(session: Session, key: str) -> tuple[int, JourneyModel] | None:
    from cx.journey import JourneyModel, StageModel, TouchpointModel
    from cx.journey_rules import parse_rule

    row = session.execute(
        select(_J, User.__table__.c.display_name)
        .select_from(_J.outerjoin(User.__table__, User.__table__.c.id == _J.c.updated_by))
        .where(_J.c.key == key)
    ).first()
    if row is None:
        return None
    journey_id = row.id
    stage_rows = session.execute(select(_S).where(_S.c.journey_id == journey_id).order_by(_S.c.position, _S.c.id)).all()
    tp_rows = session.execute(select(_T).where(_T.c.journey_id == journey_id).order_by(_T.c.position, _T.c.id)).all()
    by_stage: dict[int, list[TouchpointModel]] = {s.id: [] for s in stage_rows}
    for tp in tp_rows:
        by_stage.setdefault(tp.stage_id, []).append(
            TouchpointModel(
                key=tp.key,
                name_en=tp.name_en,
                name_zh=tp.name_zh,
                owner_department=tp.owner_department,
                owner_user_id=tp.owner_user_id,
                channels=tuple(tp.channels or ()),
                rule=parse_rule(tp.rule, where=f"touchpoint {tp.key}") if tp.rule else None,
                kpis=tuple(tp.kpis or ()),
                targets={k: float(v) for k, v in (tp.targets or {}).items()},
            )
        )
    stages = tuple(StageModel(s.key, s.name_en, s.name_zh, tuple(by_stage[s.id])) for s in stage_rows)
    model = JourneyModel(
        key=row.key,
        name_en=row.name_en,
        name_zh=row.name_zh,
        stages=stages,
        version=row.version,
        updated_by=row.updated_by,
        updated_by_name=row.display_name,
        updated_at=row.updated_at,
    )
    return journey_id, model


def load_journey(session: Session, key: str = "default") -> JourneyModel:
    """The journey ``key`` as stored; the default journey falls back to cx/data/default_journey.yaml (version 0)."""
    from cx.journey import DEFAULT_KEY, default_journey

    found = _read(session, key)
    if found is not None:
        return found[1]
    if key == DEFAULT_KEY:
        return default_journey()
    raise NotFoundError(f"There is no journey {key!r}; choose one of {journey_keys(session) or [DEFAULT_KEY]}")


def journey_history(
    session: Session, principal: Principal | None, key: str = "default", *, limit: int = 200
) -> list[JourneyVersionInfo]:
    """Saved versions of a journey, newest first, with who saved each and when (``journey.view``)."""
    require(principal, "journey.view")
    return _journey_history(session, key, limit=limit)


def _journey_history(session: Session, key: str, *, limit: int = 200) -> list[JourneyVersionInfo]:
    """:func:`journey_history` without the permission check (the edit and conflict logic of this module)."""
    users = User.__table__
    rows = session.execute(
        select(_V.c.version, _V.c.summary, _V.c.changed_by, users.c.display_name, _V.c.changed_at)
        .select_from(_V.join(_J, _J.c.id == _V.c.journey_id).outerjoin(users, users.c.id == _V.c.changed_by))
        .where(_J.c.key == key)
        .order_by(_V.c.version.desc())
        .limit(limit)
    ).all()
    return [JourneyVersionInfo(*row) for row in rows]


def history_changes(
    session: Session, principal: Principal | None, key: str = "default", *, limit: int = 50
) -> dict[int, list[JourneyChange]]:
    """For the newest ``limit`` versions: what each changed compared with the version before it (one query;
    ``journey.view``)."""
    from cx.journey import diff_journeys, parse_journey

    require(principal, "journey.view")

    rows = session.execute(
        select(_V.c.version, _V.c.snapshot)
        .join(_J, _J.c.id == _V.c.journey_id)
        .where(_J.c.key == key)
        .order_by(_V.c.version.desc())
        .limit(limit + 1)
    ).all()
    models = {version: parse_journey(snapshot, version=version) for version, snapshot in rows}
    return {
        version: diff_journeys(models[version - 1], model) for version, model in models.items() if version - 1 in models
    }


def journey_at_version(session: Session, principal: Principal | None, key: str, version: int) -> JourneyModel:
    """The journey as it was saved at ``version`` (from its snapshot; ``journey.view``)."""
    require(principal, "journey.view")
    return _journey_at_version(session, key, version)


def _journey_at_version(session: Session, key: str, version: int) -> JourneyModel:
    """:func:`journey_at_version` without the permission check (the edit and conflict logic of this module)."""
    from cx.journey import parse_journey

    row = session.execute(
        select(_V.c.snapshot, _V.c.changed_by, _V.c.changed_at)
        .join(_J, _J.c.id == _V.c.journey_id)
        .where(_J.c.key == key, _V.c.version == version)
    ).first()
    if row is None:
        raise NotFoundError(f"Journey {key!r} has no saved version {version}; pick one from its history")
    return replace(parse_journey(row.snapshot, version=version), updated_by=row.changed_by, updated_at=row.changed_at)


# --------------------------------------------------------------------------------------------- writing


def _write(session: Session, journey_id: int, journey: JourneyModel) -> None:
    """Make the stage and touchpoint rows equal to ``journey`` (by key: ids of kept rows stay the same)."""
    now_stages = {r.key: r.id for r in session.execute(select(_S.c.key, _S.c.id).where(_S.c.journey_id == journey_id))}
    now_tps = {r.key: r.id for r in session.execute(select(_T.c.key, _T.c.id).where(_T.c.journey_id == journey_id))}
    stage_ids: dict[str, int] = {}
    for position, stage in enumerate(journey.stages):
        values = {"name_en": stage.name_en, "name_zh": stage.name_zh, "position": position}
        if stage.key in now_stages:
            session.execute(update(_S).where(_S.c.id == now_stages[stage.key]).values(**values))
            stage_ids[stage.key] = now_stages[stage.key]
        else:
            stage_ids[stage.key] = session.execute(
                insert(_S).values(journey_id=journey_id, key=stage.key, **values).returning(_S.c.id)
            ).scalar_one()
    kept = set()
    for stage in journey.stages:
        for position, tp in enumerate(stage.touchpoints):
            data = tp.to_dict()
            values = {
                "stage_id": stage_ids[stage.key],
                "name_en": tp.name_en,
                "name_zh": tp.name_zh,
                "position": position,
                "owner_department": tp.owner_department,
                "owner_user_id": tp.owner_user_id,
                "channels": data["channels"],
                "rule": data["rule"],
                "kpis": data["kpis"],
                "targets": data["targets"],
            }
            kept.add(tp.key)
            if tp.key in now_tps:
                session.execute(update(_T).where(_T.c.id == now_tps[tp.key]).values(**values))
            else:
                session.execute(insert(_T).values(journey_id=journey_id, key=tp.key, **values))
    gone_tps = [now_tps[k] for k in now_tps.keys() - kept]
    if gone_tps:
        session.execute(delete(_T).where(_T.c.id.in_(gone_tps)))
    gone_stages = [now_stages[k] for k in now_stages.keys() - stage_ids.keys()]
    if gone_stages:
        session.execute(delete(_S).where(_S.c.id.in_(gone_stages)))


def _check_owners(session: Session, journey: JourneyModel) -> None:
    wanted = {tp.owner_user_id for tp in journey.touchpoints if tp.owner_user_id is not None}
    if not wanted:
        return
    users = User.__table__
    found = set(session.scalars(select(users.c.id).where(users.c.id.in_(wanted), users.c.is_active.is_(True))))
    missing = sorted(wanted - found)
    if missing:
        names = [tp.key for tp in journey.touchpoints if tp.owner_user_id in missing]
        raise ValidationError(
            "The owner of a touchpoint is not an active user", [f"{k}: choose another owner person" for k in names]
        )


def ensure_default_journey(session: Session, path: Any = None) -> JourneyModel:
    """Store the default journey (cx/data/default_journey.yaml) as version 1 unless it is stored already.

    Safe when two processes start at once: the second sees the first one's row.
    """
    from cx.journey import DEFAULT_KEY, default_journey

    found = _read(session, DEFAULT_KEY)
    if found is not None:
        return found[1]
    journey = default_journey(path)
    now = utcnow()
    try:
        with session.begin_nested():
            journey_id = session.execute(
                insert(_J)
                .values(key=journey.key, name_en=journey.name_en, name_zh=journey.name_zh, version=1, updated_at=now)
                .returning(_J.c.id)
            ).scalar_one()
            _write(session, journey_id, journey)
            session.execute(
                insert(_V).values(
                    journey_id=journey_id,
                    version=1,
                    snapshot=journey.to_dict(),
                    summary="Created from the default journey file",
                    changed_at=now,
                )
            )
            audit.record(session, None, "journey.seed", object_type="journey", object_id=journey.key, username="system")
    except IntegrityError:
        pass  # another process stored it first
    stored = _read(session, DEFAULT_KEY)
    assert stored is not None
    return stored[1]


def open_default_journey(session: Session, principal: Principal | None) -> JourneyModel:
    """The default journey as the journey page opens it (``journey.view``): stored first if it is not yet.

    :func:`ensure_default_journey` is the unchecked variant for start-up, the ETL and tests.
    """
    require(principal, "journey.view")
    return ensure_default_journey(session)


def _conflict(session: Session, key: str, expected_version: int) -> Exception:
    from cx.journey import DEFAULT_KEY, default_journey, diff_journeys

    found = _read(session, key)
    if found is None:
        return NotFoundError(f"There is no journey {key!r}; reload the page")
    current = found[1]
    if expected_version == 0 and key == DEFAULT_KEY:
        before = default_journey()
    else:
        try:
            before = _journey_at_version(session, key, expected_version)
        except NotFoundError:
            before = None
    changes = diff_journeys(before, current) if before is not None else []
    since = [v for v in _journey_history(session, key) if v.version > expected_version]
    who = sorted({v.changed_by_name or "system" for v in since})
    what = "; ".join(c.describe() for c in changes[:10]) or "the map was replaced"
    more = f" (and {len(changes) - 10} more)" if len(changes) > 10 else ""
    message = (
        f"Your change was not saved: the journey map was changed by {', '.join(who) or 'someone'} "
        f"since you opened version {expected_version} (it is now version {current.version}). "
        f"What changed: {what}{more}. Reload the map and apply your change again."
    )
    return JourneyConflictError(
        message,
        key=key,
        expected_version=expected_version,
        current_version=current.version,
        changes=changes,
        since=since,
    )


def _edit(
    session: Session,
    principal: Principal | None,
    key: str,
    expected_version: int,
    change: Callable[[JourneyModel], JourneyModel],
    *,
    op: str,
    target: str | None,
    summary: str,
) -> JourneyModel:
    """Apply ``change`` to the journey if it is still at ``expected_version``; save, snapshot and audit it.

    The version is bumped first, with ``WHERE version = expected_version``: of two concurrent edits based on the
    same version exactly one updates the row (the other waits for the row lock, then matches nothing) and the
    loser gets a JourneyConflictError listing what the winner changed. Nothing is ever silently overwritten.
    """
    from cx.journey import DEFAULT_KEY, diff_journeys, validated

    principal = require_audited(session, principal, "journey.edit", object_type="journey", object_id=key)
    if key == DEFAULT_KEY and expected_version == 0:
        # The editor showed the default file (nothing stored yet): that file is what version 1 holds.
        stored = ensure_default_journey(session)
        expected_version = 1 if stored.version == 1 else expected_version
    now = utcnow()
    result = session.execute(
        update(_J)
        .where(_J.c.key == key, _J.c.version == expected_version)
        .values(version=_J.c.version + 1, updated_by=principal.user_id, updated_at=now)
    )
    if result.rowcount != 1:
        raise _conflict(session, key, expected_version)
    found = _read(session, key)
    assert found is not None
    journey_id, current = found
    before = replace(current, version=expected_version)
    edited = validated(change(before))
    if not diff_journeys(before, edited):
        raise NothingChangedError("Nothing changed: the journey map already looks like this")
    _check_owners(session, edited)
    session.execute(update(_J).where(_J.c.id == journey_id).values(name_en=edited.name_en, name_zh=edited.name_zh))
    _write(session, journey_id, edited)
    new_version = expected_version + 1
    session.execute(
        insert(_V).values(
            journey_id=journey_id,
            version=new_version,
            snapshot=edited.to_dict(),
            summary=summary[:1000],
            changed_by=principal.user_id,
            changed_at=now,
        )
    )
    audit.record(
        session,
        principal,
        "journey.edit",
        object_type="journey",
        object_id=key,
        detail={"op": op, "target": target, "version": new_version},
    )
    return replace(
        edited,
        version=new_version,
        updated_by=principal.user_id,
        updated_by_name=principal.display_name,
        updated_at=now,
    )


def record_refused_edit(session: Session, principal: Principal | None, key: str, reason: str, op: str) -> None:
    """Audit an editor's edit that was refused (conflict, invalid input); call it in its own transaction.

    Only someone who may edit (``journey.edit``) has edits to refuse; a refused permission is audited by the edit
    itself (cx.authz.require_audited).
    """
    require(principal, "journey.edit")
    audit.record(
        session, principal, "journey.edit", object_type="journey", object_id=key, outcome=reason, detail={"op": op}
    )


# --------------------------------------------------------------------------------------------- edit operations
# Each takes the version the user's change is based on and returns the saved journey (its new version).


def add_stage(
    session: Session,
    principal: Principal | None,
    key: str,
    expected_version: int,
    stage_key: str,
    name_en: str,
    name_zh: str,
    index: int | None = None,
) -> JourneyModel:
    from cx.journey import edit_add_stage

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_add_stage(j, stage_key, name_en, name_zh, index),
        op="add_stage", target=stage_key, summary=f"Added stage {stage_key}",
    )  # fmt: skip


def rename_stage(
    session: Session,
    principal: Principal | None,
    key: str,
    expected_version: int,
    stage_key: str,
    name_en: str,
    name_zh: str,
) -> JourneyModel:
    from cx.journey import edit_rename_stage

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_rename_stage(j, stage_key, name_en, name_zh),
        op="rename_stage", target=stage_key, summary=f"Renamed stage {stage_key}",
    )  # fmt: skip


def move_stage(
    session: Session, principal: Principal | None, key: str, expected_version: int, stage_key: str, index: int
) -> JourneyModel:
    from cx.journey import edit_move_stage

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_move_stage(j, stage_key, index),
        op="move_stage", target=stage_key, summary=f"Moved stage {stage_key} to position {index + 1}",
    )  # fmt: skip


def delete_stage(
    session: Session, principal: Principal | None, key: str, expected_version: int, stage_key: str
) -> JourneyModel:
    from cx.journey import edit_delete_stage

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_delete_stage(j, stage_key),
        op="delete_stage", target=stage_key, summary=f"Deleted stage {stage_key}",
    )  # fmt: skip


def add_touchpoint(
    session: Session,
    principal: Principal | None,
    key: str,
    expected_version: int,
    stage_key: str,
    touchpoint: TouchpointModel,
) -> JourneyModel:
    from cx.journey import edit_add_touchpoint

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_add_touchpoint(j, stage_key, touchpoint),
        op="add_touchpoint", target=touchpoint.key, summary=f"Added touchpoint {touchpoint.key} to {stage_key}",
    )  # fmt: skip


def update_touchpoint(
    session: Session, principal: Principal | None, key: str, expected_version: int, touchpoint_key: str, **changes: Any
) -> JourneyModel:
    """Change fields of one touchpoint: name_en, name_zh, owner_department, owner_user_id, channels, rule, kpis, targets."""
    from cx.journey import edit_update_touchpoint

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_update_touchpoint(j, touchpoint_key, **changes),
        op="update_touchpoint", target=touchpoint_key,
        summary=f"Changed {', '.join(sorted(changes))} of touchpoint {touchpoint_key}",
    )  # fmt: skip


def move_touchpoint(
    session: Session,
    principal: Principal | None,
    key: str,
    expected_version: int,
    touchpoint_key: str,
    stage_key: str,
    index: int | None = None,
) -> JourneyModel:
    from cx.journey import edit_move_touchpoint

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_move_touchpoint(j, touchpoint_key, stage_key, index),
        op="move_touchpoint", target=touchpoint_key, summary=f"Moved touchpoint {touchpoint_key} in {stage_key}",
    )  # fmt: skip


def delete_touchpoint(
    session: Session, principal: Principal | None, key: str, expected_version: int, touchpoint_key: str
) -> JourneyModel:
    from cx.journey import edit_delete_touchpoint

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_delete_touchpoint(j, touchpoint_key),
        op="delete_touchpoint", target=touchpoint_key, summary=f"Deleted touchpoint {touchpoint_key}",
    )  # fmt: skip


def rename_journey(
    session: Session, principal: Principal | None, key: str, expected_version: int, name_en: str, name_zh: str
) -> JourneyModel:
    from cx.journey import edit_rename_journey

    return _edit(
        session, principal, key, expected_version,
        lambda j: edit_rename_journey(j, name_en, name_zh),
        op="rename_journey", target=key, summary="Renamed the journey",
    )  # fmt: skip


def replace_journey(
    session: Session,
    principal: Principal | None,
    key: str,
    expected_version: int,
    journey: JourneyModel,
    summary: str = "Replaced the map",
    op: str = "replace",
) -> JourneyModel:
    """Save a whole edited map at once (an editor form's several changes, an imported YAML) as one version."""
    if journey.key != key:
        raise ValidationError(f"The map's key {journey.key!r} is not {key!r}; keys of journeys cannot change")
    return _edit(
        session, principal, key, expected_version,
        lambda _current: journey,
        op=op, target=key, summary=summary,
    )  # fmt: skip


def restore_version(
    session: Session, principal: Principal | None, key: str, version: int, expected_version: int
) -> JourneyModel:
    """Make the map equal to its saved ``version`` again — as a new version (history is never rewritten)."""
    old = _journey_at_version(session, key, version)
    return _edit(
        session, principal, key, expected_version,
        lambda _current: old,
        op="restore", target=str(version), summary=f"Restored version {version}",
    )  # fmt: skip


# --------------------------------------------------------------------------------------------- rule preview


@dataclass(frozen=True)
class RulePreview:
    matched: int
    total: int


def rule_preview(
    session: Session, principal: Principal | None, rule: Rule | dict[str, Any], *, start: date | None = None,
    end: date | None = None, timezone: str = "UTC",
) -> RulePreview:  # fmt: skip
    """How many stored interactions in [start, end] (days in ``timezone``) the rule alone matches, of how many
    (for an editor trying a mapping rule: ``journey.edit``)."""
    require(principal, "journey.edit")
    return _rule_counts(session, rule, start=start, end=end, timezone=timezone)


def _rule_counts(
    session: Session, rule: Rule | dict[str, Any], *, start: date | None = None, end: date | None = None,
    timezone: str = "UTC",
) -> RulePreview:  # fmt: skip
    """:func:`rule_preview` without the permission check."""
    from cx.journey import rule_match_counts
    from cx.journey_rules import parse_rule, rule_fields
    from cx.paths import read_interactions

    parsed = parse_rule(rule) if isinstance(rule, dict) else rule
    columns: Sequence[str] = sorted(rule_fields(parsed)) or ["channel"]
    frame = read_interactions(session, columns, start=start, end=end, timezone=timezone)
    row = rule_match_counts(frame.lazy(), parsed).collect().row(0)
    return RulePreview(matched=int(row[0] or 0), total=int(row[1] or 0))


def match_count(
    session: Session, rule: Rule | dict[str, Any], *, start: date | None = None, end: date | None = None,
    timezone: str = "UTC",
) -> int:  # fmt: skip
    """How many stored interactions the rule matches (optionally within [start, end]); unchecked, for scripts and
    tests (the page uses :func:`rule_preview`)."""
    return _rule_counts(session, rule, start=start, end=end, timezone=timezone).matched
