"""The rule editor's form model: flat condition lists (one all/any group each) to and from rule documents.

Values arrive as the text people type ("投诉, complaint" for a keyword list, "70" for a threshold) and are
converted here; validation stays with alerts.rules, so the editor shows exactly the messages an import would.
Rules with nested groups are edited as YAML instead (``form_from_document`` returns None for them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from alerts.rules import DAYS
from cx.schema import CANONICAL_FIELDS

LIST_OPS = ("in", "not_in", "contains_any")
NO_VALUE_OPS = ("is_null", "not_null")
_SPLIT = re.compile(r"[,，;；\n]+")
_NUMERIC = {f for f, d in CANONICAL_FIELDS.items() if str(d).startswith(("Float", "Int"))}
_BOOLEAN = {f for f, d in CANONICAL_FIELDS.items() if str(d) == "Boolean"}


@dataclass
class Leaf:
    """One row of the condition table: a field test or a metric threshold."""

    name: str
    op: str
    value: str = ""
    of: str = "value"


@dataclass
class RuleForm:
    name: str = ""
    description: str = ""
    level: str = "warning"
    enabled: bool = True
    scope: str = "customer"
    window: str = "7d"
    by: str = "touchpoint"
    compare: str = "mom"
    max_age: str = "2d"
    lookback: str = "30d"
    filter_mode: str = "all"
    filters: list[Leaf] = field(default_factory=list)
    condition_mode: str = "all"
    conditions: list[Leaf] = field(default_factory=list)
    inapp: bool = True
    email: bool = False
    webhooks: list[tuple[str, str]] = field(default_factory=list)  # (method, url)
    owners: list[tuple[str, str]] = field(default_factory=list)  # (user | team | touchpoint_owner, value)
    steps: list[tuple[str, str, str]] = field(default_factory=list)  # (after, user | team | touchpoint_owner, value)
    repeat: int = 0
    ack_within: str = ""
    cooldown: str = ""
    business_hours: bool = False
    days: list[str] = field(default_factory=lambda: list(DAYS[:5]))
    start: str = "09:00"
    end: str = "18:00"


def _number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text  # validation names it: "the value must be a number, not '...'"
    return int(number) if number.is_integer() else number


def _field_value(name: str, op: str, text: str) -> Any:
    if op in LIST_OPS:
        items = [part.strip() for part in _SPLIT.split(text) if part.strip()]
        return [_number(i) for i in items] if name in _NUMERIC else items
    if name in _BOOLEAN:
        lowered = text.strip().lower()
        return {"true": True, "false": False, "是": True, "否": False}.get(lowered, text)
    return _number(text.strip()) if name in _NUMERIC else text.strip()


def _leaf_document(leaf: Leaf, metric: bool) -> dict[str, Any]:
    if metric:
        data: dict[str, Any] = {"metric": leaf.name, "op": leaf.op, "value": _number(leaf.value.strip())}
        if leaf.of and leaf.of != "value":
            data["of"] = leaf.of
        return data
    if leaf.op in NO_VALUE_OPS:
        return {"field": leaf.name, "op": leaf.op}
    return {"field": leaf.name, "op": leaf.op, "value": _field_value(leaf.name, leaf.op, leaf.value)}


def _group(mode: str, leaves: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not leaves:
        return None
    return leaves[0] if len(leaves) == 1 else {mode: leaves}


def _owner(kind: str, value: str) -> dict[str, Any]:
    return {"touchpoint_owner": True} if kind == "touchpoint_owner" else {kind: value}


def document_from_form(form: RuleForm) -> dict[str, Any]:
    """The rule document the form describes (not yet validated)."""
    scope: dict[str, Any] = {"kind": form.scope}
    if form.scope in ("customer", "aggregate", "trend"):
        scope["window"] = form.window.strip()
    if form.scope in ("aggregate", "trend"):
        scope["by"] = form.by
    if form.scope == "trend":
        scope["compare"] = form.compare
    if form.scope == "interaction":
        scope["max_age"] = form.max_age.strip()
    if form.scope == "sla":
        scope["lookback"] = form.lookback.strip()
    metric_scope = form.scope != "interaction"
    document: dict[str, Any] = {
        "name": form.name.strip(),
        "level": form.level,
        "enabled": form.enabled,
        "scope": scope,
    }
    if form.description.strip():
        document["description"] = form.description.strip()
    if metric_scope:
        filters = _group(form.filter_mode, [_leaf_document(leaf, False) for leaf in form.filters if leaf.name])
        if filters is not None:
            document["filter"] = filters
    conditions = _group(
        form.condition_mode, [_leaf_document(leaf, metric_scope) for leaf in form.conditions if leaf.name]
    )
    if conditions is not None:
        document["condition"] = conditions
    notify: list[dict[str, Any]] = []
    if form.inapp:
        notify.append({"method": "inapp"})
    if form.email:
        notify.append({"method": "email"})
    notify += [{"method": method, "url": url.strip()} for method, url in form.webhooks if url.strip()]
    document["notify"] = notify
    document["owners"] = [_owner(kind, value) for kind, value in form.owners if kind == "touchpoint_owner" or value]
    steps = [
        {"after": after.strip(), "to": _owner(kind, value)}
        for after, kind, value in form.steps
        if after.strip() and (kind == "touchpoint_owner" or value)
    ]
    if steps:
        document["escalation"] = {"steps": steps, "repeat": form.repeat}
    if form.ack_within.strip():
        document["ack_within"] = form.ack_within.strip()
    if form.cooldown.strip():
        document["cooldown"] = form.cooldown.strip()
    if form.business_hours:
        document["business_hours"] = {"days": form.days, "start": form.start, "end": form.end}
    return document


def _flat(tree: Any) -> tuple[str, list[dict[str, Any]]] | None:
    if tree is None:
        return "all", []
    if not isinstance(tree, dict):
        return None
    for mode in ("all", "any"):
        if mode in tree:
            items = tree[mode]
            if not isinstance(items, list) or any(not isinstance(i, dict) or "all" in i or "any" in i for i in items):
                return None
            return mode, items
    return "all", [tree]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _owner_pair(spec: dict[str, Any]) -> tuple[str, str]:
    if spec.get("touchpoint_owner"):
        return "touchpoint_owner", ""
    kind = "user" if "user" in spec else "team"
    return kind, str(spec.get(kind, ""))


def form_from_document(document: dict[str, Any]) -> RuleForm | None:
    """The form for a stored rule, or None when its conditions nest groups (edit those as YAML)."""
    filters, conditions = _flat(document.get("filter")), _flat(document.get("condition"))
    if filters is None or conditions is None:
        return None
    scope = document.get("scope", {})
    notify = document.get("notify", [])
    escalation = document.get("escalation") or {}
    hours = document.get("business_hours")
    return RuleForm(
        name=document.get("name", ""),
        description=document.get("description", ""),
        level=document.get("level", "warning"),
        enabled=document.get("enabled", True),
        scope=scope.get("kind", "customer"),
        window=scope.get("window", "7d"),
        by=scope.get("by", "touchpoint"),
        compare=scope.get("compare", "mom"),
        max_age=scope.get("max_age", "2d"),
        lookback=scope.get("lookback", "30d"),
        filter_mode=filters[0],
        filters=[Leaf(i.get("field", ""), i.get("op", ""), _text(i.get("value"))) for i in filters[1]],
        condition_mode=conditions[0],
        conditions=[
            Leaf(i.get("field") or i.get("metric", ""), i.get("op", ""), _text(i.get("value")), i.get("of", "value"))
            for i in conditions[1]
        ],
        inapp=any(n.get("method") == "inapp" for n in notify),
        email=any(n.get("method") == "email" for n in notify),
        webhooks=[(n["method"], n.get("url", "")) for n in notify if n.get("method") not in ("inapp", "email")],
        owners=[_owner_pair(o) for o in document.get("owners", [])],
        steps=[(s.get("after", ""), *_owner_pair(s.get("to", {}))) for s in escalation.get("steps", [])],
        repeat=int(escalation.get("repeat", 0)),
        ack_within=document.get("ack_within", ""),
        cooldown=document.get("cooldown", ""),
        business_hours=hours is not None,
        days=list((hours or {}).get("days", DAYS[:5])),
        start=(hours or {}).get("start", "09:00"),
        end=(hours or {}).get("end", "18:00"),
    )
