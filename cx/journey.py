"""The journey-map model (journeys -> stages -> touchpoints), its YAML/JSON form, and the touchpoint assignment step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl
import yaml

from cx.access import DEPARTMENTS
from cx.errors import ValidationError
from cx.journey_rules import (
    Rule,
    RuleError,
    compile_rule,
    ensure_fields,
    folded_column,
    is_slug,
    keyword_fields,
    parse_rule,
    rule_fields,
    with_folded,
)
from cx.kpi import KPIS
from cx.schema import CHANNELS

DEFAULT_JOURNEY_FILE: Final = Path(__file__).resolve().parent / "data" / "default_journey.yaml"
DEFAULT_KEY: Final = "default"

#: KPIs a touchpoint card may show and set targets for: the keys of cx.kpi.KPIS (formulas live there only).
KPI_KEYS: Final = tuple(KPIS)
#: What a card shows when the map names nothing else (volume, open alerts and the trend are always shown).
DEFAULT_KPIS: Final = ("nps", "csat", "ces", "complaint_rate")
MAX_STAGES: Final = 20
MAX_TOUCHPOINTS: Final = 200
MAX_NAME: Final = 200


class JourneyConfigError(ValidationError):
    """A journey map (file, snapshot or edit) is invalid; ``problems`` lists every issue found."""


@dataclass(frozen=True)
class TouchpointModel:
    """A touchpoint: who owns it, on which channels, which interactions belong to it, what it shows and aims for."""

    key: str
    name_en: str
    name_zh: str
    owner_department: str | None = None
    owner_user_id: int | None = None
    channels: tuple[str, ...] = ()
    rule: Rule | None = None
    kpis: tuple[str, ...] = DEFAULT_KPIS
    targets: Mapping[str, float] = field(default_factory=dict)

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": {"en": self.name_en, "zh": self.name_zh},
            "owner_department": self.owner_department,
            "owner_user_id": self.owner_user_id,
            "channels": list(self.channels),
            "rule": self.rule.to_dict() if self.rule is not None else None,
            "kpis": list(self.kpis),
            "targets": dict(self.targets),
        }


@dataclass(frozen=True)
class StageModel:
    """A stage (scene) of the journey, with its touchpoints in display order."""

    key: str
    name_en: str
    name_zh: str
    touchpoints: tuple[TouchpointModel, ...] = ()

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": {"en": self.name_en, "zh": self.name_zh},
            "touchpoints": [tp.to_dict() for tp in self.touchpoints],
        }


@dataclass(frozen=True)
class JourneyModel:
    """A whole journey map. ``version`` is the stored version it was read at (0: not stored yet)."""

    key: str
    name_en: str
    name_zh: str
    stages: tuple[StageModel, ...] = ()
    version: int = 0
    updated_by: int | None = None
    updated_by_name: str | None = None
    updated_at: datetime | None = None

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en

    @property
    def touchpoints(self) -> tuple[TouchpointModel, ...]:
        """Every touchpoint, stage by stage, in display order (the order rules are tried in)."""
        return tuple(tp for stage in self.stages for tp in stage.touchpoints)

    def touchpoint(self, key: str) -> TouchpointModel:
        for tp in self.touchpoints:
            if tp.key == key:
                return tp
        raise JourneyConfigError(f"There is no touchpoint {key!r} in this journey; reload the map")

    def stage(self, key: str) -> StageModel:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise JourneyConfigError(f"There is no stage {key!r} in this journey; reload the map")

    def stage_of(self) -> dict[str, str]:
        """Touchpoint key -> its stage key."""
        return {tp.key: stage.key for stage in self.stages for tp in stage.touchpoints}

    def stage_order(self) -> list[str]:
        return [stage.key for stage in self.stages]

    def to_dict(self) -> dict[str, Any]:
        """The snapshot form (same shape as cx/data/default_journey.yaml), without version or editor."""
        return {
            "key": self.key,
            "name": {"en": self.name_en, "zh": self.name_zh},
            "stages": [stage.to_dict() for stage in self.stages],
        }


# --------------------------------------------------------------------------------------------- parsing


def parse_journey(data: Any, *, version: int = 0) -> JourneyModel:
    """Validate a journey in its dict form (YAML file or stored snapshot); raise JourneyConfigError with every problem.

    A journey-level ``defaults: {kpis: [...], targets: {...}}`` applies to touchpoints that name none themselves.
    """
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise JourneyConfigError("The journey map is not valid", ["expected a mapping with key, name and stages"])
    key = data.get("key", DEFAULT_KEY)
    if not is_slug(key):
        problems.append(f"key: {key!r} is not a key (lower-case letters, digits and _, starting with a letter)")
    name_en, name_zh = _names(data.get("name"), "name", problems)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        problems.append("defaults: expected a mapping with kpis and targets")
        defaults = {}
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list):
        problems.append("stages: expected a list of stages")
        raw_stages = []
    if len(raw_stages) > MAX_STAGES:
        problems.append(f"stages: {len(raw_stages)} stages is too many; keep to {MAX_STAGES}")
    stage_keys: set[str] = set()
    touchpoint_keys: set[str] = set()
    stages = []
    for i, raw in enumerate(raw_stages):
        where = f"stages[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: expected a mapping with key, name and touchpoints")
            continue
        stage_key = raw.get("key")
        if not is_slug(stage_key):
            problems.append(f"{where}.key: {stage_key!r} is not a key (lower-case letters, digits and _)")
        elif stage_key in stage_keys:
            problems.append(f"{where}.key: the stage key {stage_key!r} is used twice; keys must be unique")
        stage_keys.add(str(stage_key))
        s_en, s_zh = _names(raw.get("name"), f"{where}.name", problems)
        touchpoints = []
        raw_tps = raw.get("touchpoints") or []
        if not isinstance(raw_tps, list):
            problems.append(f"{where}.touchpoints: expected a list")
            raw_tps = []
        for j, raw_tp in enumerate(raw_tps):
            tp = _parse_touchpoint(raw_tp, f"{where}.touchpoints[{j}]", defaults, touchpoint_keys, problems)
            if tp is not None:
                touchpoints.append(tp)
        stages.append(StageModel(str(stage_key), s_en, s_zh, tuple(touchpoints)))
    if len(touchpoint_keys) > MAX_TOUCHPOINTS:
        problems.append(f"{len(touchpoint_keys)} touchpoints is too many; keep to {MAX_TOUCHPOINTS}")
    if problems:
        raise JourneyConfigError("The journey map is not valid", problems)
    return JourneyModel(str(key), name_en, name_zh, tuple(stages), version=version)


def _names(raw: Any, where: str, problems: list[str]) -> tuple[str, str]:
    if isinstance(raw, str):
        raw = {"en": raw, "zh": raw}
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected {{en: ..., zh: ...}}")
        return "", ""
    out = []
    for language in ("en", "zh"):
        value = raw.get(language)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}.{language}: a name is required in both languages")
            out.append("")
        elif len(value) > MAX_NAME:
            problems.append(f"{where}.{language}: names are limited to {MAX_NAME} characters")
            out.append(value.strip()[:MAX_NAME])
        else:
            out.append(value.strip())
    return out[0], out[1]


def _parse_touchpoint(
    raw: Any, where: str, defaults: Mapping[str, Any], seen: set[str], problems: list[str]
) -> TouchpointModel | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping with key, name, owner_department, channels and rule")
        return None
    key = raw.get("key")
    if not is_slug(key):
        problems.append(f"{where}.key: {key!r} is not a key (lower-case letters, digits and _)")
    elif key in seen:
        problems.append(f"{where}.key: the touchpoint key {key!r} is used twice; keys must be unique in a journey")
    seen.add(str(key))
    name_en, name_zh = _names(raw.get("name"), f"{where}.name", problems)
    department = raw.get("owner_department") or None
    if department is not None and department not in DEPARTMENTS:
        problems.append(f"{where}.owner_department: unknown department {department!r}; use {', '.join(DEPARTMENTS)}")
    owner = raw.get("owner_user_id")
    if owner is not None and (isinstance(owner, bool) or not isinstance(owner, int)):
        problems.append(f"{where}.owner_user_id: expected a user id, not {owner!r}")
    channels = raw.get("channels") or []
    if not isinstance(channels, list) or any(c not in CHANNELS for c in channels):
        problems.append(f"{where}.channels: expected a list of channels from {', '.join(CHANNELS)}, got {channels!r}")
        channels = []
    rule = None
    if raw.get("rule") is not None:
        try:
            rule = parse_rule(raw["rule"], where=f"{where}.rule")
        except RuleError as exc:
            problems.extend(exc.problems)
    kpis = raw.get("kpis", defaults.get("kpis", list(DEFAULT_KPIS)))
    if not isinstance(kpis, list) or any(k not in KPI_KEYS for k in kpis):
        problems.append(f"{where}.kpis: expected a list of KPIs from {', '.join(KPI_KEYS)}, got {kpis!r}")
        kpis = list(DEFAULT_KPIS)
    targets = {**(defaults.get("targets") or {}), **(raw.get("targets") or {})}
    clean_targets: dict[str, float] = {}
    for kpi, value in targets.items():
        if kpi not in KPI_KEYS:
            problems.append(f"{where}.targets: unknown KPI {kpi!r}; use one of {', '.join(KPI_KEYS)}")
        elif value is None:
            continue
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}.targets.{kpi}: the target must be a number, not {value!r}")
        else:
            clean_targets[kpi] = float(value)
    return TouchpointModel(
        key=str(key),
        name_en=name_en,
        name_zh=name_zh,
        owner_department=department,
        owner_user_id=owner if isinstance(owner, int) and not isinstance(owner, bool) else None,
        channels=tuple(dict.fromkeys(channels)),
        rule=rule,
        kpis=tuple(dict.fromkeys(kpis)),
        targets=clean_targets,
    )


def validated(journey: JourneyModel) -> JourneyModel:
    """``journey`` re-checked as a whole (unique keys, names, rules), keeping its version and editor."""
    parsed = parse_journey(journey.to_dict(), version=journey.version)
    return replace(
        parsed, updated_by=journey.updated_by, updated_by_name=journey.updated_by_name, updated_at=journey.updated_at
    )


@lru_cache(maxsize=4)
def _default_from_file(path: str) -> JourneyModel:
    with open(path, encoding="utf-8") as handle:
        return parse_journey(yaml.safe_load(handle))


def default_journey(path: Path | None = None) -> JourneyModel:
    """The journey shipped in cx/data/default_journey.yaml (validated; version 0 = not stored)."""
    return _default_from_file(str(path or DEFAULT_JOURNEY_FILE))


def journey_to_yaml(journey: JourneyModel) -> str:
    """The YAML form of a journey (the format of cx/data/default_journey.yaml); round-trips through parse_journey."""
    return yaml.safe_dump(journey.to_dict(), allow_unicode=True, sort_keys=False)


# --------------------------------------------------------------------------------------------- ETL step


def touchpoint_departments(journey: JourneyModel) -> dict[str, str]:
    """Touchpoint key -> owner department (touchpoints without an owner department are left out)."""
    return {tp.key: tp.owner_department for tp in journey.touchpoints if tp.owner_department}


def _blank_to_null(name: str) -> pl.Expr:
    column = pl.col(name).cast(pl.String)
    return pl.when(column.str.strip_chars() == "").then(None).otherwise(column)


def assign_touchpoints(interactions: pl.LazyFrame, journey: JourneyModel) -> pl.LazyFrame:
    """Fill ``touchpoint`` and ``stage`` where the source left them empty, from the journey's mapping rules.

    - A source-given touchpoint is kept; its stage is filled from the map when the source gave none.
    - Otherwise the first touchpoint (stage by stage, in map order) whose rule matches wins; a source-given
      stage narrows the candidates to that stage's touchpoints. No match leaves both empty (null).
    - Blank strings count as empty. Fields a rule tests but the frame lacks count as null.
    - One when/then chain of compiled rule expressions: vectorised, no Python per row, no eval.

    Columns other than touchpoint and stage pass through unchanged (touchpoint/stage are added if absent).

    >>> lf = pl.LazyFrame({"channel": ["survey", "app"], "kind": ["survey", "purchase"], "text": [None, None]})
    >>> assign_touchpoints(lf, default_journey()).collect()["touchpoint"].to_list()
    ['feedback_survey', 'checkout']
    """
    original = interactions.collect_schema().names()
    frame = interactions
    for name in ("touchpoint", "stage"):
        if name not in original:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    rules = [(stage.key, tp) for stage in journey.stages for tp in stage.touchpoints if tp.rule is not None]
    fields = set().union(*(rule_fields(tp.rule) for _s, tp in rules)) if rules else set()
    folded = set().union(*(keyword_fields(tp.rule) for _s, tp in rules)) if rules else set()
    frame = with_folded(ensure_fields(frame, fields), folded)
    given_tp, given_stage = _blank_to_null("touchpoint"), _blank_to_null("stage")
    chain: Any = pl.when(given_tp.is_not_null()).then(given_tp)
    for stage_key, tp in rules:
        assert tp.rule is not None
        condition = compile_rule(tp.rule, folded=True) & (given_stage.is_null() | (given_stage == stage_key)).fill_null(
            False
        )
        chain = chain.when(condition).then(pl.lit(tp.key))
    touchpoint = chain.otherwise(pl.lit(None, dtype=pl.String))
    stage_of = journey.stage_of()
    stage = pl.coalesce(
        given_stage,
        pl.col("touchpoint").replace_strict(
            list(stage_of), list(stage_of.values()), default=None, return_dtype=pl.String
        ),
    )
    temporary = [folded_column(f) for f in folded] + [f for f in fields if f not in original]
    return (
        frame.with_columns(touchpoint.alias("touchpoint"))
        .with_columns(stage.alias("stage"))
        .drop(temporary)
        .select([*original, *(c for c in ("touchpoint", "stage") if c not in original)])
    )


def rule_match_counts(interactions: pl.LazyFrame, rule: Rule) -> pl.LazyFrame:
    """One row: ``matched`` (rows the rule alone matches) and ``total`` (rows considered): the editor's preview."""
    frame = with_folded(ensure_fields(interactions, rule_fields(rule)), keyword_fields(rule))
    return frame.select(matched=compile_rule(rule, folded=True).sum().cast(pl.Int64), total=pl.len().cast(pl.Int64))


# --------------------------------------------------------------------------------------------- edits (pure)

ChangeKind = Literal["added", "removed", "changed", "moved"]


@dataclass(frozen=True)
class JourneyChange:
    """One difference between two versions of a journey (for conflict messages and the history)."""

    kind: ChangeKind
    object: Literal["journey", "stage", "touchpoint"]
    key: str
    field: str | None = None
    old: Any = None
    new: Any = None
    names: tuple[str, str] | None = None  # the object's (English, Chinese) names, also for removed objects

    def describe(self) -> str:
        """English one-liner (the page renders its own translated form from the same fields)."""
        what = f"{self.object} {self.key!r}"
        if self.kind == "added":
            return f"{what} was added"
        if self.kind == "removed":
            return f"{what} was removed"
        if self.kind == "moved":
            return f"{what} was moved ({_place(self.old)} → {_place(self.new)})"
        return f"{what}: {self.field} changed from {_short(self.old)} to {_short(self.new)}"


def _place(value: Any) -> str:
    return f"{value[0]} #{value[1]}" if isinstance(value, tuple) else str(value)


def _short(value: Any) -> str:
    text = "–" if value in (None, "", [], {}) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


_TP_FIELDS: Final = ("name_en", "name_zh", "owner_department", "owner_user_id", "channels", "rule", "kpis", "targets")


def diff_journeys(old: JourneyModel, new: JourneyModel) -> list[JourneyChange]:
    """What changed from ``old`` to ``new``: names, stages and touchpoints added/removed/moved, touchpoint fields.

    "Moved" means a real reordering: another stage, or another place among the items present in both versions
    (deleting a touchpoint does not report every touchpoint after it as moved). Positions are 1-based, and a
    touchpoint's place is ``(stage key, position)``. Every change carries the object's ``names`` (en, zh).
    """
    changes: list[JourneyChange] = []
    journey_names = (new.name_en, new.name_zh)
    for name in ("name_en", "name_zh"):
        if getattr(old, name) != getattr(new, name):
            changes.append(
                JourneyChange(
                    "changed", "journey", new.key, name, getattr(old, name), getattr(new, name), journey_names
                )
            )
    old_stages = {s.key: s for s in old.stages}
    new_stages = {s.key: s for s in new.stages}
    for key in old_stages.keys() - new_stages.keys():
        stage = old_stages[key]
        changes.append(JourneyChange("removed", "stage", key, names=(stage.name_en, stage.name_zh)))
    moved_stages = _reordered(old.stage_order(), new.stage_order())
    for key, stage in new_stages.items():
        names = (stage.name_en, stage.name_zh)
        if key not in old_stages:
            changes.append(JourneyChange("added", "stage", key, names=names))
            continue
        if key in moved_stages:
            before, after = old.stage_order().index(key) + 1, new.stage_order().index(key) + 1
            changes.append(JourneyChange("moved", "stage", key, "position", before, after, names))
        for name in ("name_en", "name_zh"):
            if getattr(old_stages[key], name) != getattr(stage, name):
                changes.append(
                    JourneyChange(
                        "changed", "stage", key, name, getattr(old_stages[key], name), getattr(stage, name), names
                    )
                )
    old_tps = _touchpoint_places(old)
    new_tps = _touchpoint_places(new)
    for key in old_tps.keys() - new_tps.keys():
        tp = old_tps[key][1]
        changes.append(JourneyChange("removed", "touchpoint", key, names=(tp.name_en, tp.name_zh)))
    moved_tps = {
        key
        for stage in new.stages
        if stage.key in old_stages
        for key in _reordered(
            [tp.key for tp in old_stages[stage.key].touchpoints], [tp.key for tp in stage.touchpoints]
        )
    }
    for key, (place, tp) in new_tps.items():
        names = (tp.name_en, tp.name_zh)
        if key not in old_tps:
            changes.append(JourneyChange("added", "touchpoint", key, names=names))
            continue
        old_place, old_tp = old_tps[key]
        if old_place[0] != place[0] or key in moved_tps:
            changes.append(JourneyChange("moved", "touchpoint", key, "position", old_place, place, names))
        old_dict, new_dict = old_tp.to_dict(), tp.to_dict()
        for name in _TP_FIELDS:
            before = (
                old_dict["name"]["en" if name == "name_en" else "zh"] if name.startswith("name_") else old_dict[name]
            )
            after = (
                new_dict["name"]["en" if name == "name_en" else "zh"] if name.startswith("name_") else new_dict[name]
            )
            if before != after:
                changes.append(JourneyChange("changed", "touchpoint", key, name, before, after, names))
    order = {"journey": 0, "stage": 1, "touchpoint": 2}
    return sorted(changes, key=lambda c: (order[c.object], c.key, c.field or ""))


def _reordered(before: list[str], after: list[str]) -> set[str]:
    """Keys in both lists that really moved: their order among the common keys changed, and so did their position.

    A deletion or insertion shifts positions but keeps the order (nothing reported); moving one item past others
    reports that item (the others keep their positions or their order); a swap of two reports both.
    """
    common = set(before) & set(after)
    old_rank = {k: i for i, k in enumerate(k for k in before if k in common)}
    new_rank = {k: i for i, k in enumerate(k for k in after if k in common)}
    old_place = {k: i for i, k in enumerate(before)}
    new_place = {k: i for i, k in enumerate(after)}
    return {k for k in common if old_rank[k] != new_rank[k] and old_place[k] != new_place[k]}


def _touchpoint_places(journey: JourneyModel) -> dict[str, tuple[tuple[str, int], TouchpointModel]]:
    return {tp.key: ((stage.key, j + 1), tp) for stage in journey.stages for j, tp in enumerate(stage.touchpoints)}


def _replace_stage(journey: JourneyModel, stage_key: str, stage: StageModel | None) -> JourneyModel:
    journey.stage(stage_key)  # raises when unknown
    stages = tuple(stage if s.key == stage_key else s for s in journey.stages if s.key != stage_key or stage)
    return replace(journey, stages=stages)


def _moved(items: Iterable[Any], key: str, index: int) -> tuple[Any, ...]:
    items = list(items)
    current = next(i for i, item in enumerate(items) if item.key == key)
    item = items.pop(current)
    items.insert(max(0, min(index, len(items))), item)
    return tuple(items)


def edit_add_stage(
    journey: JourneyModel, key: str, name_en: str, name_zh: str, index: int | None = None
) -> JourneyModel:
    if any(s.key == key for s in journey.stages):
        raise JourneyConfigError(f"A stage with the key {key!r} exists already; choose another key")
    stages = list(journey.stages)
    stages.insert(len(stages) if index is None else max(0, min(index, len(stages))), StageModel(key, name_en, name_zh))
    return replace(journey, stages=tuple(stages))


def edit_rename_stage(journey: JourneyModel, key: str, name_en: str, name_zh: str) -> JourneyModel:
    return _replace_stage(journey, key, replace(journey.stage(key), name_en=name_en, name_zh=name_zh))


def edit_move_stage(journey: JourneyModel, key: str, index: int) -> JourneyModel:
    journey.stage(key)
    return replace(journey, stages=_moved(journey.stages, key, index))


def edit_delete_stage(journey: JourneyModel, key: str) -> JourneyModel:
    stage = journey.stage(key)
    if stage.touchpoints:
        raise JourneyConfigError(
            f"The stage {key!r} still has {len(stage.touchpoints)} touchpoints; move or delete them first"
        )
    return _replace_stage(journey, key, None)


def edit_add_touchpoint(journey: JourneyModel, stage_key: str, touchpoint: TouchpointModel) -> JourneyModel:
    if any(tp.key == touchpoint.key for tp in journey.touchpoints):
        raise JourneyConfigError(f"A touchpoint with the key {touchpoint.key!r} exists already; choose another key")
    stage = journey.stage(stage_key)
    return _replace_stage(journey, stage_key, replace(stage, touchpoints=(*stage.touchpoints, touchpoint)))


def edit_update_touchpoint(journey: JourneyModel, key: str, **changes: Any) -> JourneyModel:
    """Change fields of a touchpoint (names, owner_department, owner_user_id, channels, rule, kpis, targets)."""
    unknown = set(changes) - set(_TP_FIELDS)
    if unknown:
        raise JourneyConfigError(f"Cannot change {sorted(unknown)} of a touchpoint; use one of {', '.join(_TP_FIELDS)}")
    if "rule" in changes and changes["rule"] is not None and not hasattr(changes["rule"], "to_dict"):
        changes["rule"] = parse_rule(changes["rule"])
    for name in ("channels", "kpis"):
        if name in changes:
            changes[name] = tuple(changes[name] or ())
    if "targets" in changes:
        changes["targets"] = dict(changes["targets"] or {})
    journey.touchpoint(key)
    stages = tuple(
        replace(stage, touchpoints=tuple(replace(tp, **changes) if tp.key == key else tp for tp in stage.touchpoints))
        for stage in journey.stages
    )
    return replace(journey, stages=stages)


def edit_move_touchpoint(journey: JourneyModel, key: str, stage_key: str, index: int | None = None) -> JourneyModel:
    """Move a touchpoint to position ``index`` of ``stage_key`` (its own stage or another; None = last)."""
    touchpoint = journey.touchpoint(key)
    journey.stage(stage_key)
    stages = []
    for stage in journey.stages:
        items = [tp for tp in stage.touchpoints if tp.key != key]
        if stage.key == stage_key:
            items.insert(len(items) if index is None else max(0, min(index, len(items))), touchpoint)
        stages.append(replace(stage, touchpoints=tuple(items)))
    return replace(journey, stages=tuple(stages))


def edit_delete_touchpoint(journey: JourneyModel, key: str) -> JourneyModel:
    journey.touchpoint(key)
    stages = tuple(
        replace(stage, touchpoints=tuple(tp for tp in stage.touchpoints if tp.key != key)) for stage in journey.stages
    )
    return replace(journey, stages=stages)


def edit_rename_journey(journey: JourneyModel, name_en: str, name_zh: str) -> JourneyModel:
    return replace(journey, name_en=name_en, name_zh=name_zh)


# The store side (load, save with optimistic locking, history, restore) lives in cx.journey_store and is
# re-exported here so callers import everything journey-related from one place.
from cx.journey_store import (  # noqa: E402
    JourneyConflictError,
    JourneyVersionInfo,
    NothingChangedError,
    add_stage,
    add_touchpoint,
    delete_stage,
    delete_touchpoint,
    ensure_default_journey,
    history_changes,
    journey_at_version,
    journey_history,
    journey_keys,
    load_journey,
    match_count,
    move_stage,
    move_touchpoint,
    open_default_journey,
    record_refused_edit,
    rename_journey,
    rename_stage,
    replace_journey,
    restore_version,
    rule_preview,
    update_touchpoint,
)

__all__ = [
    "DEFAULT_KEY",
    "JourneyConflictError",
    "NothingChangedError",
    "KPI_KEYS",
    "JourneyChange",
    "JourneyConfigError",
    "JourneyModel",
    "JourneyVersionInfo",
    "StageModel",
    "TouchpointModel",
    "add_stage",
    "add_touchpoint",
    "assign_touchpoints",
    "default_journey",
    "delete_stage",
    "delete_touchpoint",
    "diff_journeys",
    "ensure_default_journey",
    "history_changes",
    "journey_at_version",
    "journey_history",
    "journey_keys",
    "load_journey",
    "record_refused_edit",
    "rule_preview",
    "match_count",
    "move_stage",
    "move_touchpoint",
    "open_default_journey",
    "parse_journey",
    "rename_journey",
    "rename_stage",
    "replace_journey",
    "restore_version",
    "rule_match_counts",
    "touchpoint_departments",
    "update_touchpoint",
]
