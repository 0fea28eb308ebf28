"""Stored warning rules: list, save (validated, versioned, audited), enable/disable, delete, YAML export and import."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.routing import team_exists, user_by_name
from alerts.rules import OwnerSpec, RuleSpec, format_duration, parse_rule
from cx import audit
from cx.access import Principal, require
from cx.errors import ConflictError, CxError, NotFoundError, RuleConfigError
from cx.models import AlertRule
from cx.types import utcnow

EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 2_000_000
MAX_IMPORT_RULES = 1000
MAX_FLOW_DEPTH = 40


def spec_of(rule: AlertRule) -> RuleSpec:
    """The validated spec of a stored rule (stored definitions were validated on save)."""
    return parse_rule({**rule.definition, "name": rule.name, "level": rule.level, "enabled": rule.enabled})


def list_rules(session: Session, principal: Principal | None = None, *, enabled_only: bool = False) -> list[AlertRule]:
    if principal is not None:
        require(principal, "rule.view")
    query = select(AlertRule).order_by(AlertRule.name)
    if enabled_only:
        query = query.where(AlertRule.enabled.is_(True))
    return list(session.scalars(query))


def get_rule(session: Session, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFoundError(f"There is no rule #{rule_id}; reload the rule list")
    return rule


def _owner_problems(session: Session, owners: Sequence[OwnerSpec], path: str, *, single: bool = False) -> list[str]:
    problems = []
    for i, owner in enumerate(owners):
        where = path if single else f"{path}[{i}]"
        if owner.kind == "user":
            user = user_by_name(session, owner.value or "")
            if user is None or not user.is_active:
                problems.append(f"{where}.user: there is no active user {owner.value!r}; choose another owner")
        elif owner.kind == "team" and not team_exists(session, owner.value or ""):
            problems.append(f"{where}.team: there is no team {owner.value!r}; choose one of the known teams")
    return problems


def check_against_store(session: Session, spec: RuleSpec) -> None:
    """Owners named by the rule must exist in this store."""
    problems = _owner_problems(session, spec.owners, "owners") + [
        problem
        for i, step in enumerate(spec.escalation.steps)
        for problem in _owner_problems(session, [step.to], f"escalation.steps[{i}].to", single=True)
    ]
    if problems:
        raise RuleConfigError(f"The rule {spec.name!r} is not valid", problems)


def save_rule(
    session: Session,
    principal: Principal | None,
    data: dict[str, Any],
    *,
    rule_id: int | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AlertRule:
    """Create (``rule_id`` None) or update a rule from its document; ``principal`` None means the command line.

    Raises RuleConfigError listing every problem, ConflictError when the rule changed since ``expected_version``.
    """
    if principal is not None:
        require(principal, "rule.edit")
    now = now or utcnow()
    spec = parse_rule(data)
    check_against_store(session, spec)
    clash = session.scalar(select(AlertRule).where(AlertRule.name == spec.name))
    if clash is not None and clash.id != rule_id:
        raise RuleConfigError(f"A rule named {spec.name!r} exists already; choose another name")
    definition = spec.to_dict()
    actor = principal.user_id if principal else None
    if rule_id is None:
        rule = AlertRule(
            name=spec.name,
            definition=definition,
            level=spec.level,
            enabled=spec.enabled,
            version=1,
            created_by=actor,
            created_at=now,
            updated_by=actor,
            updated_at=now,
        )
        session.add(rule)
        session.flush()
        action = "rule.create"
    else:
        rule = session.scalar(select(AlertRule).where(AlertRule.id == rule_id).with_for_update())
        if rule is None:
            raise NotFoundError(f"There is no rule #{rule_id}; reload the rule list")
        if expected_version is not None and rule.version != expected_version:
            raise ConflictError(
                f"The rule {rule.name!r} was changed by someone else (version {rule.version}); reload it and "
                "apply your change again"
            )
        scope_changed = rule.definition.get("scope") != definition.get("scope")
        rule.name, rule.definition, rule.level, rule.enabled = spec.name, definition, spec.level, spec.enabled
        rule.version += 1
        rule.updated_by, rule.updated_at = actor, now
        if scope_changed:
            rule.watermark = None  # a new scope is evaluated from scratch
        action = "rule.update"
    audit.record(
        session,
        principal,
        action,
        object_type="alert_rule",
        object_id=str(rule.id),
        detail={"version": rule.version, "enabled": rule.enabled},
        username=None if principal else "cli",
        at=now,
    )
    return rule


def set_enabled(
    session: Session, principal: Principal, rule_id: int, enabled: bool, *, now: datetime | None = None
) -> AlertRule:
    require(principal, "rule.edit")
    rule = get_rule(session, rule_id)
    rule.enabled = enabled
    rule.definition = {**rule.definition, "enabled": enabled}
    rule.version += 1
    rule.updated_by, rule.updated_at = principal.user_id, now or utcnow()
    audit.record(
        session,
        principal,
        "rule.enable" if enabled else "rule.disable",
        object_type="alert_rule",
        object_id=str(rule_id),
    )
    return rule


def delete_rule(session: Session, principal: Principal, rule_id: int) -> None:
    """Delete a rule; its alerts stay (their rule link becomes empty)."""
    require(principal, "rule.edit")
    rule = get_rule(session, rule_id)
    audit.record(session, principal, "rule.delete", object_type="alert_rule", object_id=str(rule_id))
    session.delete(rule)


# --------------------------------------------------------------------------------------------- YAML


def export_yaml(session: Session, principal: Principal | None = None) -> str:
    """Every rule as one YAML document (``rules: [...]``) that :func:`import_yaml` reads back."""
    rules = [spec_of(rule).to_dict() for rule in list_rules(session, principal)]
    return yaml.safe_dump({"version": EXPORT_VERSION, "rules": rules}, allow_unicode=True, sort_keys=False)


def load_rule_yaml(text: str) -> dict[str, Any]:
    """One rule document typed as YAML in the editor (the same guards as a file import)."""
    if not text.strip():
        return {}
    if len(text.encode("utf-8")) > MAX_IMPORT_BYTES or _flow_depth(text) > MAX_FLOW_DEPTH:
        raise RuleConfigError("The YAML is too large or nested too deeply for a rule")
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise RuleConfigError("The YAML is nested too deeply for a rule") from None
    except yaml.YAMLError as exc:
        raise RuleConfigError(f"The text is not valid YAML: {str(exc)[:300]}") from None
    if not isinstance(data, dict):
        raise RuleConfigError("A rule is a mapping (name: ..., level: ..., scope: ..., condition: ...)")
    return data


def scope_summary(rule: AlertRule) -> str:
    """One line for the rule list, e.g. ``customer · 7d`` (``–`` for a stored rule that no longer validates)."""
    try:
        spec = spec_of(rule)
    except CxError:
        return "–"
    parts = [spec.scope.kind]
    if spec.scope.window is not None:
        parts.append(format_duration(spec.scope.window))
    if spec.scope.kind in ("aggregate", "trend") and spec.scope.by != "all":
        parts.append(spec.scope.by)
    if spec.scope.kind == "trend":
        parts.append(spec.scope.compare)
    return " · ".join(parts)


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _flow_depth(text: str) -> int:
    """How deep [ and { nest in ``text`` (a cheap look before the YAML parser recurses into hostile input)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
    return deepest


def load_yaml(text: str) -> list[dict[str, Any]]:
    """The rule documents of a YAML file; RuleConfigError for anything that is not a rules file."""
    if len(text.encode("utf-8")) > MAX_IMPORT_BYTES:
        raise RuleConfigError(f"The file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB; split it")
    if _flow_depth(text) > MAX_FLOW_DEPTH:
        raise RuleConfigError(f"The file nests brackets more than {MAX_FLOW_DEPTH} deep; a rules file never does")
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise RuleConfigError("The file is nested too deeply to be a rules file") from None
    except yaml.YAMLError as exc:
        raise RuleConfigError(f"The file is not valid YAML: {str(exc)[:300]}") from None
    if isinstance(data, list):
        rules = data
    elif isinstance(data, dict) and isinstance(data.get("rules"), list):
        rules = data["rules"]
    else:
        raise RuleConfigError("A rules file has a top-level 'rules:' list (as written by 'rules export')")
    if len(rules) > MAX_IMPORT_RULES:
        raise RuleConfigError(f"The file has {len(rules)} rules; import at most {MAX_IMPORT_RULES} at once")
    return rules


def import_yaml(
    session: Session, principal: Principal | None, text: str, *, now: datetime | None = None
) -> ImportResult:
    """Create or update (by name) every rule of a YAML file — all or nothing: any problem in any rule raises
    RuleConfigError listing them all, and nothing is saved."""
    if principal is not None:
        require(principal, "rule.edit")
    documents = load_yaml(text)
    problems: list[str] = []
    specs: list[RuleSpec] = []
    for i, document in enumerate(documents):
        label = document.get("name") if isinstance(document, dict) and isinstance(document.get("name"), str) else ""
        try:
            spec = parse_rule(document)
            check_against_store(session, spec)
            specs.append(spec)
        except RuleConfigError as exc:
            problems.extend(f"rules[{i}] {label[:80]!r}: {p}" for p in exc.problems or [str(exc)])
    names = [s.name for s in specs]
    problems.extend(f"the name {n!r} appears twice" for n in sorted({n for n in names if names.count(n) > 1}))
    if problems:
        raise RuleConfigError("Nothing was imported", problems)
    result = ImportResult()
    for spec in specs:
        existing = session.scalar(select(AlertRule).where(AlertRule.name == spec.name))
        save_rule(session, principal, spec.to_dict(), rule_id=existing.id if existing else None, now=now)
        (result.updated if existing else result.created).append(spec.name)
    return result


DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "default_rules.yaml"


def install_default_rules(
    session: Session, principal: Principal | None = None, *, now: datetime | None = None
) -> ImportResult:
    """Import the starter rules into a store that has no rules yet (after loading the demo data).

    From the app a principal allowed to load the demo data is required; headless callers (CLI, tests) pass none.
    """
    if principal is not None:
        require(principal, "data.load_demo")
    if session.scalar(select(AlertRule.id).limit(1)) is not None:
        return ImportResult()
    return import_yaml(session, principal, DEFAULT_RULES.read_text("utf-8"), now=now)
