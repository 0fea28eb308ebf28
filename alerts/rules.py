"""Warning rules as validated data (never code): scope, condition tree, level, channels, owners, escalation, cooldown.

A rule in YAML (the same dict is stored in ``alert_rules.definition``)::

    name: Repeat contacts without resolution
    level: warning                      # info | warning | critical
    scope: {kind: customer, window: 7d} # interaction | customer | aggregate | trend | sla
    filter: {all: [{field: channel, op: in, value: [phone, chat]}]}   # optional: which rows count
    condition: {all: [{metric: contacts, op: ge, value: 3}, {metric: resolved, op: eq, value: 0}]}
    notify: [{method: inapp}, {method: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."}]
    owners: [{touchpoint_owner: true}, {team: hotline_a}]
    escalation: {steps: [{after: 30m, to: {user: owner2}}], repeat: 1}
    cooldown: 7d
    business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}

Field leaves (``field``/``op``/``value``) use the journey map's vocabulary and compiler (cx.journey_rules: eq, ne,
in, not_in, gt, lt, contains_any with Chinese/English keywords, is_null, not_null). Metric leaves
(``metric``/``op``/``value``) compare a per-entity figure with a threshold (gt, ge, lt, le, eq, ne). For the
interaction scope the condition holds field leaves; for the other scopes the filter holds field leaves and the
condition metric leaves. Every problem found is reported at once, each with its path (``condition.all[1].op``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.outbox import METHODS, WEBHOOK_METHODS, Channel
from alerts.states import LEVELS
from cx import journey_rules, kpi
from cx.errors import RuleConfigError
from cx.journey_rules import Condition, Group
from cx.schema import CANONICAL_FIELDS

ScopeKind = Literal["interaction", "customer", "aggregate", "trend", "sla"]
SCOPES: Final = ("interaction", "customer", "aggregate", "trend", "sla")
#: Scopes that read daily_facts (aggregates over days) rather than interactions.
FACT_SCOPES: Final = ("aggregate", "trend")
GROUP_BY: Final = ("all", "touchpoint", "channel", "team", "agent_id", "stage", "department")
FACT_DIMENSIONS: Final = ("channel", "stage", "touchpoint", "department", "team", "agent_id")
COMPARISONS: Final = ("mom", "yoy", "previous")
METRIC_OPS: Final = ("gt", "ge", "lt", "le", "eq", "ne")
TREND_OF: Final = ("value", "baseline", "change")

#: Per-customer figures over the window (plain counts and score extremes; KPI formulas live in cx.kpi).
CUSTOMER_METRICS: Final = (
    "contacts",
    "complaints",
    "resolved",
    "unresolved",
    "abandoned",
    "channels",
    "touchpoints",
    "min_nps",
    "min_csat",
    "min_ces",
)
#: Per-case figures of open cases.
SLA_METRICS: Final = ("open_hours", "contacts")
#: daily_facts count columns a rule may threshold directly (e.g. "with at least 30 responses").
FACT_COLUMNS: Final = (
    "interactions",
    "customers",
    "inbound_contacts",
    "complaints",
    "repeat_contacts",
    "nps_responses",
    "csat_responses",
    "ces_responses",
    "fcr_cases",
    "first_responses",
    "handled",
    "offered",
    "answered",
    "abandoned",
    "cases_opened",
    "cases_resolved",
    "sla_measured",
    "sla_breached",
)
#: Fields a filter may test in the daily_facts scopes (the dimensions of the facts).
FACT_FILTER_FIELDS: Final = FACT_DIMENSIONS
#: Text fields the journey vocabulary does not offer (it decides them) but alert filters may test.
_EXTRA_TEXT_FIELDS: Final = ("touchpoint", "stage", "department", "profile_id")
INTERACTION_FILTER_FIELDS: Final = (*CANONICAL_FIELDS, "profile_id")

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_NAME: Final = 200
MAX_DESCRIPTION: Final = 2000
MAX_DEPTH: Final = journey_rules.MAX_DEPTH
MAX_LEAVES: Final = journey_rules.MAX_LEAVES
MAX_NODES: Final = 5000  # anything in one rule document (lists, keys, values), checked before parsing
MAX_STRING: Final = 2000  # longest string anywhere in a rule document
MAX_URL: Final = 500
MAX_OWNERS: Final = 5
MAX_STEPS: Final = 10
MAX_REPEAT: Final = 20
_DURATION = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS: Final = {"m": 1, "h": 60, "d": 1440}
_TOP_KEYS: Final = {
    "name",
    "description",
    "level",
    "enabled",
    "scope",
    "filter",
    "condition",
    "notify",
    "owners",
    "escalation",
    "ack_within",
    "cooldown",
    "business_hours",
}


# --------------------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Scope:
    """What one alert is about and over which time: see the module docstring."""

    kind: ScopeKind
    window: timedelta | None = None  # customer, aggregate, trend: the period measured
    by: str = "all"  # aggregate, trend: one alert per touchpoint / channel / team / agent / ...
    compare: str = "mom"  # trend: month-over-month, year-over-year, or the previous period
    max_age: timedelta = timedelta(days=2)  # interaction: older contacts never alert (historic loads)
    lookback: timedelta = timedelta(days=30)  # sla: how far back open cases are searched

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind in ("customer", "aggregate", "trend") and self.window is not None:
            data["window"] = format_duration(self.window)
        if self.kind in FACT_SCOPES:
            data["by"] = self.by
        if self.kind == "trend":
            data["compare"] = self.compare
        if self.kind == "interaction":
            data["max_age"] = format_duration(self.max_age)
        if self.kind == "sla":
            data["lookback"] = format_duration(self.lookback)
        return data


@dataclass(frozen=True)
class MetricCondition:
    """``metric op value`` on a per-entity figure; ``of`` picks the current value, the baseline or the change (trend)."""

    metric: str
    op: str
    value: float
    of: str = "value"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"metric": self.metric, "op": self.op, "value": self.value}
        if self.of != "value":
            data["of"] = self.of
        return data


@dataclass(frozen=True)
class MetricGroup:
    mode: Literal["all", "any"]
    items: tuple[MetricCondition | MetricGroup, ...]

    def to_dict(self) -> dict[str, Any]:
        return {self.mode: [item.to_dict() for item in self.items]}


MetricRule = MetricCondition | MetricGroup
FieldRule = journey_rules.Rule


@dataclass(frozen=True)
class OwnerSpec:
    """A user (by user name), a team, or the owner of the alert's touchpoint in the journey map."""

    kind: Literal["user", "team", "touchpoint_owner"]
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"touchpoint_owner": True} if self.kind == "touchpoint_owner" else {self.kind: self.value}


@dataclass(frozen=True)
class EscalationStep:
    after: timedelta
    to: OwnerSpec

    def to_dict(self) -> dict[str, Any]:
        return {"after": format_duration(self.after), "to": self.to.to_dict()}


@dataclass(frozen=True)
class Escalation:
    """Not acknowledged ``steps[i].after`` after the previous step → the alert goes to ``steps[i].to``;
    after the last step, the last one repeats ``repeat`` more times."""

    steps: tuple[EscalationStep, ...] = ()
    repeat: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [s.to_dict() for s in self.steps], "repeat": self.repeat}

    def step(self, index: int) -> EscalationStep | None:
        """The step escalation number ``index`` (0-based) takes, or None past the limit."""
        if not self.steps or index >= len(self.steps) + self.repeat:
            return None
        return self.steps[min(index, len(self.steps) - 1)]


@dataclass(frozen=True)
class BusinessHours:
    """Working days and hours (local time): escalation clocks run and non-critical notices go out only then."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(9, 0)
    end: time = time(18, 0)
    timezone: str | None = None  # None: the store's time zone (CX_TIMEZONE)
    applies_to_critical: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "days": [DAYS[d] for d in self.days],
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }
        if self.timezone:
            data["timezone"] = self.timezone
        if self.applies_to_critical:
            data["applies_to_critical"] = True
        return data


@dataclass(frozen=True)
class RuleSpec:
    """A validated warning rule."""

    name: str
    level: str
    scope: Scope
    condition: FieldRule | MetricRule
    filter: FieldRule | None = None
    description: str = ""
    enabled: bool = True
    notify: tuple[Channel, ...] = (Channel("inapp"),)
    owners: tuple[OwnerSpec, ...] = ()
    escalation: Escalation = field(default_factory=Escalation)
    ack_within: timedelta | None = None
    cooldown: timedelta | None = None
    business_hours: BusinessHours | None = None

    @property
    def effective_cooldown(self) -> timedelta:
        """No new alert for the same rule and entity within this time (default: the scope's window)."""
        if self.cooldown is not None:
            return self.cooldown
        return self.scope.window or timedelta(0)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        data.update({"level": self.level, "enabled": self.enabled, "scope": self.scope.to_dict()})
        if self.filter is not None:
            data["filter"] = self.filter.to_dict()
        data["condition"] = self.condition.to_dict()
        data["notify"] = [{"method": c.method, **({"url": c.url} if c.url else {})} for c in self.notify]
        data["owners"] = [o.to_dict() for o in self.owners]
        if self.escalation.steps:
            data["escalation"] = self.escalation.to_dict()
        if self.ack_within is not None:
            data["ack_within"] = format_duration(self.ack_within)
        if self.cooldown is not None:
            data["cooldown"] = format_duration(self.cooldown)
        if self.business_hours is not None:
            data["business_hours"] = self.business_hours.to_dict()
        return data


# --------------------------------------------------------------------------------------------- helpers


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=2)`` -> ``"2h"`` (the largest unit that divides evenly)."""
    minutes = int(value.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes and minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def parse_duration(
    value: Any, path: str, problems: list[str], *, maximum: timedelta, minimum: timedelta = timedelta(minutes=1)
) -> timedelta | None:
    """``"30m"``, ``"2h"`` or ``"7d"`` -> timedelta; a problem naming the path otherwise."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(f"{path}: {_show(value)} is not a duration; write it like 30m, 2h or 7d")
        return None
    duration = timedelta(minutes=int(match.group(1)) * _UNITS[match.group(2)])
    if not minimum <= duration <= maximum:
        problems.append(
            f"{path}: {value} is out of range; use {format_duration(minimum)} to {format_duration(maximum)}"
        )
        return None
    return duration


def _show(value: Any) -> str:
    """A value quoted for an error message, cut short (hostile input can be huge)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _precheck(data: Any) -> list[str]:
    """Reject documents too deep, too large or with huge strings before looking inside (iterative, no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return [f"the rule is too large (more than {MAX_NODES} parts); split it into several rules"]
        if depth > 4 * MAX_DEPTH + 6:
            return [f"the rule is nested too deeply; condition groups may be nested at most {MAX_DEPTH} levels"]
        if isinstance(item, str):
            if len(item) > MAX_STRING:
                return [f"a text of {len(item)} characters is too long (at most {MAX_STRING}); shorten it"]
        elif isinstance(item, Mapping):
            for key, value in item.items():
                if not isinstance(key, str):
                    return [f"keys must be text, not {_show(key)}"]
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((value, depth + 1) for value in item)
        elif item is not None and not isinstance(item, bool | int | float):
            return [f"{type(item).__name__} values are not allowed in a rule; use text, numbers, lists and mappings"]
    return []


# --------------------------------------------------------------------------------------------- condition trees


def _walk(
    data: Any,
    path: str,
    depth: int,
    problems: list[str],
    leaves: list[int],
    leaf: Any,
) -> Any:
    """Parse an all/any tree whose leaves are parsed by ``leaf(data, path)``; groups nest at most MAX_DEPTH deep."""
    if not isinstance(data, Mapping):
        problems.append(f"{path}: expected a mapping with 'all', 'any' or a condition, got {type(data).__name__}")
        return None
    groups = [k for k in ("all", "any") if k in data]
    if not groups:
        leaves[0] += 1
        return leaf(data, path)
    if len(groups) > 1 or len(data) > 1:
        problems.append(f"{path}: a group has exactly one key, 'all' or 'any' (found {sorted(data)[:5]})")
        return None
    if depth > MAX_DEPTH:
        problems.append(f"{path}: groups nested deeper than {MAX_DEPTH} levels; flatten the condition")
        return None
    mode = groups[0]
    items = data[mode]
    if not isinstance(items, list) or not items:
        problems.append(f"{path}.{mode}: expected a non-empty list of conditions")
        return None
    parsed = [_walk(item, f"{path}.{mode}[{i}]", depth + 1, problems, leaves, leaf) for i, item in enumerate(items)]
    if any(p is None for p in parsed):
        return None
    return (mode, tuple(parsed))


def _field_leaf(allowed: tuple[str, ...], problems: list[str]) -> Any:
    def parse(data: Mapping[str, Any], path: str) -> Condition | None:
        if "metric" in data:
            problems.append(f"{path}: a metric condition is not allowed here; {_where_hint('field')}")
            return None
        name = data.get("field")
        if name not in allowed:
            problems.append(f"{path}.field: unknown field {_show(name)}; use one of {', '.join(allowed)}")
            return None
        # The journey vocabulary validates the leaf; the fields it decides itself (touchpoint, stage) and the facts'
        # department are plain text fields here, validated as such.
        stand_in = "source" if name in _EXTRA_TEXT_FIELDS else name
        try:
            parsed = journey_rules.parse_rule({**data, "field": stand_in}, where=path)
        except journey_rules.RuleError as exc:
            problems.extend(p.replace("source", name) if stand_in != name else p for p in exc.problems)
            return None
        assert isinstance(parsed, Condition)
        return Condition(name, parsed.op, parsed.value)

    return parse


def _metric_leaf(scope: Scope, problems: list[str]) -> Any:
    allowed = metrics_for(scope.kind)

    def parse(data: Mapping[str, Any], path: str) -> MetricCondition | None:
        if "field" in data:
            problems.append(f"{path}: a field condition is not allowed here; {_where_hint('metric')}")
            return None
        unknown = sorted(set(data) - {"metric", "op", "value", "of"})
        if unknown:
            problems.append(f"{path}: unknown keys {unknown[:5]}; a metric condition has metric, op, value (and of)")
            return None
        metric, op, value, of = data.get("metric"), data.get("op"), data.get("value"), data.get("of", "value")
        before = len(problems)
        if metric not in allowed:
            problems.append(
                f"{path}.metric: unknown metric {_show(metric)} for a {scope.kind} rule; use one of "
                f"{', '.join(allowed)}"
            )
        if op not in METRIC_OPS:
            problems.append(f"{path}.op: unknown operator {_show(op)}; use one of {', '.join(METRIC_OPS)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            problems.append(f"{path}.value: the threshold must be a number, not {_show(value)}")
        elif abs(value) > 1e12:
            problems.append(f"{path}.value: {value} is out of range")
        if of not in TREND_OF or (of != "value" and scope.kind != "trend"):
            problems.append(
                f"{path}.of: {_show(of)} is not allowed; "
                + ("use value, baseline or change" if scope.kind == "trend" else "only trend rules take 'of'")
            )
        elif of != "value" and metric in allowed and metric not in kpi.KPIS:
            problems.append(f"{path}.of: {of} compares KPIs; {metric} is a count column, use of: value")
        if len(problems) > before:
            return None
        return MetricCondition(str(metric), str(op), float(value), str(of))

    return parse


def _where_hint(kind: str) -> str:
    if kind == "field":
        return "interaction rules test fields in 'condition'; other scopes put field tests in 'filter'"
    return "this scope tests metrics in 'condition' and fields in 'filter'"


def _to_field_rule(tree: Any) -> FieldRule:
    if isinstance(tree, Condition):
        return tree
    mode, items = tree
    return Group(mode, tuple(_to_field_rule(i) for i in items))


def _to_metric_rule(tree: Any) -> MetricRule:
    if isinstance(tree, MetricCondition):
        return tree
    mode, items = tree
    return MetricGroup(mode, tuple(_to_metric_rule(i) for i in items))


def metrics_for(kind: str) -> tuple[str, ...]:
    """The metric names a condition of scope ``kind`` may use."""
    if kind == "customer":
        return CUSTOMER_METRICS
    if kind == "sla":
        return SLA_METRICS
    if kind in FACT_SCOPES:
        return tuple(kpi.KPIS) + tuple(c for c in FACT_COLUMNS if c not in kpi.KPIS)
    return ()


def metric_names(rule: MetricRule | None) -> set[str]:
    if rule is None:
        return set()
    if isinstance(rule, MetricCondition):
        return {rule.metric}
    return set().union(*(metric_names(i) for i in rule.items))


def metric_conditions(rule: MetricRule | None) -> list[MetricCondition]:
    if rule is None:
        return []
    if isinstance(rule, MetricCondition):
        return [rule]
    return [leaf for item in rule.items for leaf in metric_conditions(item)]


# --------------------------------------------------------------------------------------------- parsing


def parse_rule(data: Any) -> RuleSpec:
    """Validate a rule document (a dict from YAML/JSON/the editor); raise RuleConfigError listing every problem."""
    problems = _precheck(data)
    if problems:
        raise RuleConfigError("The rule is not valid", problems)
    if not isinstance(data, Mapping):
        raise RuleConfigError(
            "The rule is not valid", [f"expected a mapping of rule settings, got {type(data).__name__}"]
        )
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        problems.append(f"unknown settings {unknown[:5]}; a rule has {', '.join(sorted(_TOP_KEYS))}")

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: give the rule a name")
        name = ""
    elif len(name.strip()) > MAX_NAME:
        problems.append(f"name: {len(name)} characters is too long; keep it to {MAX_NAME}")
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        problems.append(f"description: text of at most {MAX_DESCRIPTION} characters")
        description = ""
    level = data.get("level")
    if level not in LEVELS:
        problems.append(f"level: {_show(level)} is not one of {', '.join(LEVELS)}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"enabled: true or false, not {_show(enabled)}")

    scope = _parse_scope(data.get("scope"), problems)
    filter_rule: FieldRule | None = None
    condition: FieldRule | MetricRule | None = None
    if scope is not None:
        filter_fields = FACT_FILTER_FIELDS if scope.kind in FACT_SCOPES else INTERACTION_FILTER_FIELDS
        if data.get("filter") is not None:
            if scope.kind == "interaction":
                problems.append("filter: an interaction rule puts all its field tests in 'condition'")
            else:
                leaves = [0]
                tree = _walk(data["filter"], "filter", 1, problems, leaves, _field_leaf(filter_fields, problems))
                _check_leaves("filter", leaves, problems)
                filter_rule = _to_field_rule(tree) if tree is not None else None
        if data.get("condition") is None:
            problems.append("condition: a rule needs a condition (an all/any group or one condition)")
        else:
            leaves = [0]
            if scope.kind == "interaction":
                tree = _walk(data["condition"], "condition", 1, problems, leaves, _field_leaf(filter_fields, problems))
                condition = _to_field_rule(tree) if tree is not None else None
            else:
                tree = _walk(data["condition"], "condition", 1, problems, leaves, _metric_leaf(scope, problems))
                condition = _to_metric_rule(tree) if tree is not None else None
            _check_leaves("condition", leaves, problems)

    notify = _parse_notify(data.get("notify", [{"method": "inapp"}]), problems)
    owners = _parse_owners(data.get("owners", []), "owners", problems)
    escalation = _parse_escalation(data.get("escalation"), problems)
    ack_within = cooldown = None
    if data.get("ack_within") is not None:
        ack_within = parse_duration(data["ack_within"], "ack_within", problems, maximum=timedelta(days=30))
    if data.get("cooldown") is not None:
        cooldown = parse_duration(
            data["cooldown"], "cooldown", problems, maximum=timedelta(days=90), minimum=timedelta(0)
        )
    hours = _parse_business_hours(data.get("business_hours"), problems)

    if problems or scope is None or condition is None:
        raise RuleConfigError(
            f"The rule {name.strip()[:80]!r} is not valid" if name else "The rule is not valid",
            problems or ["condition: missing"],
        )
    return RuleSpec(
        name=name.strip(),
        description=description.strip(),
        level=str(level),
        enabled=bool(enabled),
        scope=scope,
        filter=filter_rule,
        condition=condition,
        notify=notify,
        owners=owners,
        escalation=escalation,
        ack_within=ack_within,
        cooldown=cooldown,
        business_hours=hours,
    )


def rule_problems(data: Any) -> list[str]:
    """Every problem of ``data`` as a rule (empty when valid), for the editor."""
    try:
        parse_rule(data)
    except RuleConfigError as exc:
        return exc.problems or [str(exc)]
    return []


def _check_leaves(path: str, leaves: list[int], problems: list[str]) -> None:
    if leaves[0] > MAX_LEAVES:
        problems.append(f"{path}: {leaves[0]} conditions is too many; keep to {MAX_LEAVES} or fewer")


def _parse_scope(data: Any, problems: list[str]) -> Scope | None:
    if not isinstance(data, Mapping):
        problems.append(f"scope: expected a mapping such as {{kind: customer, window: 7d}}, got {_show(data)}")
        return None
    kind = data.get("kind")
    if kind not in SCOPES:
        problems.append(f"scope.kind: {_show(kind)} is not one of {', '.join(SCOPES)}")
        return None
    allowed = {
        "interaction": {"kind", "max_age"},
        "customer": {"kind", "window"},
        "aggregate": {"kind", "window", "by"},
        "trend": {"kind", "window", "by", "compare"},
        "sla": {"kind", "lookback"},
    }[kind]
    unknown = sorted(set(data) - allowed)
    if unknown:
        problems.append(f"scope: {kind} rules do not take {unknown[:5]}; they take {', '.join(sorted(allowed))}")
    before = len(problems)
    window = None
    if kind in ("customer", "aggregate", "trend"):
        default = {"customer": None, "aggregate": None, "trend": "30d"}[kind]
        raw = data.get("window", default)
        if raw is None:
            problems.append(f"scope.window: a {kind} rule needs a window such as 7d")
        else:
            window = parse_duration(raw, "scope.window", problems, maximum=timedelta(days=366))
            if window is not None and kind in FACT_SCOPES and window % timedelta(days=1):
                problems.append(f"scope.window: {kind} rules read daily figures; use whole days such as 7d")
    by = data.get("by", "all")
    if kind in FACT_SCOPES and by not in GROUP_BY:
        problems.append(f"scope.by: {_show(by)} is not one of {', '.join(GROUP_BY)}")
    compare = data.get("compare", "mom")
    if kind == "trend" and compare not in COMPARISONS:
        problems.append(f"scope.compare: {_show(compare)} is not one of {', '.join(COMPARISONS)}")
    max_age = parse_duration(data.get("max_age", "2d"), "scope.max_age", problems, maximum=timedelta(days=90))
    lookback = parse_duration(data.get("lookback", "30d"), "scope.lookback", problems, maximum=timedelta(days=366))
    if len(problems) > before:
        return None
    assert max_age is not None and lookback is not None
    return Scope(kind=kind, window=window, by=by, compare=compare, max_age=max_age, lookback=lookback)


def _parse_notify(data: Any, problems: list[str]) -> tuple[Channel, ...]:
    if not isinstance(data, list) or not data:
        problems.append("notify: a non-empty list such as [{method: inapp}]")
        return ()
    channels = []
    for i, item in enumerate(data[:20]):
        path = f"notify[{i}]"
        if not isinstance(item, Mapping) or item.get("method") not in METHODS:
            method = item.get("method") if isinstance(item, Mapping) else item
            problems.append(f"{path}.method: {_show(method)} is not one of {', '.join(METHODS)}")
            continue
        unknown = sorted(set(item) - {"method", "url"})
        if unknown:
            problems.append(f"{path}: unknown keys {unknown[:5]}; a channel has method (and url for webhooks)")
        method, url = item["method"], item.get("url")
        if method in WEBHOOK_METHODS:
            parsed = urlparse(url) if isinstance(url, str) else None
            if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
                problems.append(f"{path}.url: {method} needs an http(s) URL, not {_show(url)}")
                continue
            if len(url) > MAX_URL:
                problems.append(f"{path}.url: longer than {MAX_URL} characters")
                continue
        elif url is not None:
            problems.append(f"{path}.url: {method} takes no url (it goes to the owners)")
            continue
        channels.append(Channel(method, url if method in WEBHOOK_METHODS else None))
    if len(data) > 20:
        problems.append("notify: at most 20 channels")
    return tuple(dict.fromkeys(channels))


def _parse_owner(data: Any, path: str, problems: list[str]) -> OwnerSpec | None:
    if isinstance(data, Mapping) and len(data) == 1:
        ((key, value),) = data.items()
        if key == "touchpoint_owner" and value is True:
            return OwnerSpec("touchpoint_owner")
        if key in ("user", "team") and isinstance(value, str) and value.strip() and len(value) <= 80:
            return OwnerSpec(key, value.strip().casefold() if key == "user" else value.strip())
    problems.append(
        f"{path}: {_show(data)} is not an owner; use {{user: name}}, {{team: name}} or {{touchpoint_owner: true}}"
    )
    return None


def _parse_owners(data: Any, path: str, problems: list[str]) -> tuple[OwnerSpec, ...]:
    if not isinstance(data, list):
        problems.append(f"{path}: a list of owners, tried in order")
        return ()
    if len(data) > MAX_OWNERS:
        problems.append(f"{path}: at most {MAX_OWNERS} owners")
        return ()
    owners = [_parse_owner(item, f"{path}[{i}]", problems) for i, item in enumerate(data)]
    return tuple(o for o in owners if o is not None)


def _parse_escalation(data: Any, problems: list[str]) -> Escalation:
    if data is None:
        return Escalation()
    if not isinstance(data, Mapping) or set(data) - {"steps", "repeat"}:
        problems.append("escalation: a mapping with steps (and repeat)")
        return Escalation()
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data or len(steps_data) > MAX_STEPS:
        problems.append(f"escalation.steps: a list of 1 to {MAX_STEPS} steps such as {{after: 30m, to: {{team: x}}}}")
        return Escalation()
    steps = []
    for i, item in enumerate(steps_data):
        path = f"escalation.steps[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"after", "to"}:
            problems.append(f"{path}: a step has exactly 'after' (a duration) and 'to' (an owner)")
            continue
        after = parse_duration(item["after"], f"{path}.after", problems, maximum=timedelta(days=30))
        to = _parse_owner(item["to"], f"{path}.to", problems)
        if after is not None and to is not None:
            steps.append(EscalationStep(after, to))
    repeat = data.get("repeat", 0)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
        problems.append(f"escalation.repeat: a whole number from 0 to {MAX_REPEAT}, not {_show(repeat)}")
        repeat = 0
    return Escalation(tuple(steps), repeat)


def _parse_time(value: Any, path: str, problems: list[str]) -> time | None:
    if isinstance(value, str) and re.match(r"^\d{2}:\d{2}$", value):
        hour, minute = int(value[:2]), int(value[3:])
        if hour < 24 and minute < 60:
            return time(hour, minute)
    problems.append(f"{path}: {_show(value)} is not a time; write it like 09:00")
    return None


def _parse_business_hours(data: Any, problems: list[str]) -> BusinessHours | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or set(data) - {"days", "start", "end", "timezone", "applies_to_critical"}:
        problems.append("business_hours: a mapping with days, start, end (and timezone, applies_to_critical)")
        return None
    days = data.get("days", list(DAYS[:5]))
    if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
        problems.append(f"business_hours.days: a list of {', '.join(DAYS)}")
        return None
    start = _parse_time(data.get("start", "09:00"), "business_hours.start", problems)
    end = _parse_time(data.get("end", "18:00"), "business_hours.end", problems)
    if start and end and start >= end:
        problems.append("business_hours: start must be before end (overnight shifts are not supported)")
    timezone = data.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"business_hours.timezone: {_show(timezone)} is not a time zone such as Asia/Shanghai")
    critical = data.get("applies_to_critical", False)
    if not isinstance(critical, bool):
        problems.append("business_hours.applies_to_critical: true or false")
    if start is None or end is None:
        return None
    return BusinessHours(tuple(sorted({DAYS.index(d) for d in days})), start, end, timezone, bool(critical))
