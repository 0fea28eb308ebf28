"""Touchpoint mapping rules: validated all/any trees of {field, op, value} leaves, compiled to polars expressions.

A rule is data (YAML/JSON), never code::

    {"all": [{"field": "channel", "op": "eq", "value": "web"},
             {"any": [{"field": "kind", "op": "in", "value": ["visit", "inquiry"]},
                      {"field": "text", "op": "contains_any", "value": ["价格", "price"]}]}]}

Semantics (the same in the ETL step and in the editor's preview, both go through :func:`compile_rule`):

- ``eq``, ``in``, ``gt``, ``lt``, ``contains_any`` are false when the field is missing (null);
- ``ne`` and ``not_in`` are true when the field is missing ("kind is not purchase" includes rows without a kind);
- ``contains_any`` matches any keyword as a substring, case-insensitively, after NFKC normalisation (full-width
  ``ＡＰＰ`` matches ``app``); Chinese and English keywords alike;
- ``gt``/``lt`` compare numeric fields only; ``is_null``/``not_null`` take no value (an empty string counts as null).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import polars as pl

from cx.errors import ValidationError
from cx.schema import CANONICAL_FIELDS, CHANNELS, DIRECTIONS, KINDS

Op = Literal["eq", "ne", "in", "not_in", "contains_any", "is_null", "not_null", "gt", "lt"]
OPS: Final[tuple[str, ...]] = ("eq", "ne", "in", "not_in", "contains_any", "is_null", "not_null", "gt", "lt")

MAX_DEPTH: Final = 5  # nesting of all/any groups
MAX_LEAVES: Final = 50  # conditions in one rule
MAX_VALUES: Final = 200  # values in one in/not_in/contains_any list
MAX_TEXT: Final = 200  # characters of one value

#: Fields a rule may test: every canonical field except the two a rule decides, and raw identifiers'
#: siblings that carry no meaning for a touchpoint are still allowed (tests on them are rare but harmless).
RULE_FIELDS: Final[tuple[str, ...]] = tuple(f for f in CANONICAL_FIELDS if f not in ("touchpoint", "stage"))
_NUMERIC: Final = frozenset(f for f, d in CANONICAL_FIELDS.items() if d in (pl.Float64, pl.Int8))
_BOOLEAN: Final = frozenset(f for f, d in CANONICAL_FIELDS.items() if d == pl.Boolean)
_TEXT: Final = frozenset(f for f, d in CANONICAL_FIELDS.items() if d == pl.String)
_ENUMS: Final[dict[str, tuple[str, ...]]] = {"channel": CHANNELS, "kind": KINDS, "direction": DIRECTIONS}


class RuleError(ValidationError):
    """A mapping rule is invalid; ``problems`` names each offending part by its path in the tree."""


@dataclass(frozen=True)
class Condition:
    """One leaf: ``field op value``."""

    field: str
    op: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        if self.op in ("is_null", "not_null"):
            return {"field": self.field, "op": self.op}
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True)
class Group:
    """``all`` (every item true) or ``any`` (at least one item true) of conditions and groups."""

    mode: Literal["all", "any"]
    items: tuple[Condition | Group, ...]

    def to_dict(self) -> dict[str, Any]:
        return {self.mode: [item.to_dict() for item in self.items]}


Rule = Condition | Group


# --------------------------------------------------------------------------------------------- parsing


def parse_rule(data: Any, *, where: str = "rule") -> Rule:
    """Validate ``data`` (a dict as in YAML/JSON) into a rule; raise RuleError listing every problem found."""
    problems: list[str] = []
    leaves = [0]
    rule = _parse(data, where, 1, problems, leaves)
    if leaves[0] > MAX_LEAVES:
        problems.append(f"{where}: {leaves[0]} conditions is too many; keep a rule to {MAX_LEAVES} or fewer")
    if problems or rule is None:
        raise RuleError("The mapping rule is not valid", problems or [f"{where}: empty rule"])
    return rule


def rule_problems(data: Any, *, where: str = "rule") -> list[str]:
    """Every problem of ``data`` as a rule (empty when it is valid)."""
    try:
        parse_rule(data, where=where)
    except RuleError as exc:
        return exc.problems
    return []


def _parse(data: Any, path: str, depth: int, problems: list[str], leaves: list[int]) -> Rule | None:
    if isinstance(data, Group | Condition):
        data = data.to_dict()
    if not isinstance(data, Mapping):
        problems.append(f"{path}: expected a mapping with 'all', 'any' or 'field'/'op', got {type(data).__name__}")
        return None
    groups = [k for k in ("all", "any") if k in data]
    if groups:
        extra = sorted(set(data) - {groups[0]})
        if len(groups) > 1 or extra:
            problems.append(f"{path}: a group has exactly one key, 'all' or 'any' (found {sorted(data)})")
            return None
        mode = groups[0]
        if depth > MAX_DEPTH:
            problems.append(f"{path}: groups nested deeper than {MAX_DEPTH} levels; flatten the rule")
            return None
        items = data[mode]
        if not isinstance(items, list | tuple) or not items:
            problems.append(f"{path}.{mode}: expected a non-empty list of conditions")
            return None
        parsed = [_parse(item, f"{path}.{mode}[{i}]", depth + 1, problems, leaves) for i, item in enumerate(items)]
        if any(p is None for p in parsed):
            return None
        return Group(mode, tuple(p for p in parsed if p is not None))
    return _parse_condition(data, path, problems, leaves)


def _parse_condition(data: Mapping[str, Any], path: str, problems: list[str], leaves: list[int]) -> Condition | None:
    leaves[0] += 1
    before = len(problems)
    unknown_keys = sorted(set(data) - {"field", "op", "value"})
    if unknown_keys:
        problems.append(f"{path}: unknown keys {unknown_keys}; a condition has field, op and value")
    field, op, value = data.get("field"), data.get("op"), data.get("value")
    if field not in RULE_FIELDS:
        hint = (
            " (a rule decides the touchpoint and stage, it cannot test them)"
            if field in ("touchpoint", "stage")
            else ""
        )
        problems.append(f"{path}.field: unknown field {field!r}{hint}; use one of {', '.join(RULE_FIELDS)}")
        return None
    if op not in OPS:
        problems.append(f"{path}.op: unknown operator {op!r}; use one of {', '.join(OPS)}")
        return None
    checked = _check_value(field, op, value, path, problems)
    return Condition(field, op, checked) if len(problems) == before else None


def _check_scalar(field: str, value: Any, path: str, problems: list[str]) -> Any:
    if field in _NUMERIC:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: {field} is a number, so the value must be a number, not {value!r}")
        return value
    if field in _BOOLEAN:
        if not isinstance(value, bool):
            problems.append(f"{path}: {field} is true/false, so the value must be true or false, not {value!r}")
        return value
    if field in _TEXT:
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{path}: the value for {field} must be non-empty text, not {value!r}")
            return value
        if len(value) > MAX_TEXT:
            problems.append(f"{path}: a value longer than {MAX_TEXT} characters; shorten it")
        allowed = _ENUMS.get(field)
        if allowed and value not in allowed:
            problems.append(f"{path}: unknown {field} {value!r}; use one of {', '.join(allowed)}")
        return value.strip()
    problems.append(f"{path}: {field} can only be tested with is_null or not_null")
    return value


def _check_value(field: str, op: str, value: Any, path: str, problems: list[str]) -> Any:
    if op in ("is_null", "not_null"):
        if value not in (None, "", []):
            problems.append(f"{path}.value: {op} takes no value (remove {value!r})")
        return None
    if field not in _NUMERIC | _BOOLEAN | _TEXT:
        problems.append(f"{path}: {field} can only be tested with is_null or not_null")
        return None
    if op in ("gt", "lt"):
        if field not in _NUMERIC:
            problems.append(f"{path}.op: {op} compares numbers; {field} is not numeric")
            return None
        return _check_scalar(field, value, f"{path}.value", problems)
    if op in ("eq", "ne"):
        if isinstance(value, list | tuple | dict) or value is None:
            problems.append(f"{path}.value: {op} takes one value, not {value!r} (use in/not_in for a list)")
            return None
        return _check_scalar(field, value, f"{path}.value", problems)
    # list operators
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        problems.append(f"{path}.value: {op} takes a non-empty list of values")
        return None
    if len(value) > MAX_VALUES:
        problems.append(f"{path}.value: {len(value)} values is too many; keep to {MAX_VALUES}")
        return None
    if op == "contains_any":
        if field not in _TEXT:
            problems.append(f"{path}.op: contains_any searches text; {field} is not a text field")
            return None
        out = []
        for i, keyword in enumerate(value):
            if not isinstance(keyword, str) or not keyword.strip():
                problems.append(f"{path}.value[{i}]: keywords must be non-empty text, not {keyword!r}")
            elif len(keyword) > MAX_TEXT:
                problems.append(f"{path}.value[{i}]: a keyword longer than {MAX_TEXT} characters; shorten it")
            else:
                out.append(keyword.strip())
        return tuple(dict.fromkeys(out))
    if field in _BOOLEAN:
        problems.append(f"{path}.op: use eq or ne for the true/false field {field}")
        return None
    return tuple(dict.fromkeys(_check_scalar(field, v, f"{path}.value[{i}]", problems) for i, v in enumerate(value)))


# --------------------------------------------------------------------------------------------- inspecting


def rule_fields(rule: Rule | None) -> set[str]:
    """The fields a rule tests."""
    if rule is None:
        return set()
    if isinstance(rule, Condition):
        return {rule.field}
    return set().union(*(rule_fields(item) for item in rule.items))


def keyword_fields(rule: Rule | None) -> set[str]:
    """The fields a rule searches with contains_any (they get one lower-cased copy each when compiled)."""
    if rule is None:
        return set()
    if isinstance(rule, Condition):
        return {rule.field} if rule.op == "contains_any" else set()
    return set().union(*(keyword_fields(item) for item in rule.items))


#: The words :func:`describe` uses; pass translated ones to show a rule in another language.
DESCRIBE_WORDS: Final[dict[str, str]] = {
    "and": "AND",
    "or": "OR",
    "is_null": "is empty",
    "not_null": "is filled",
    "in": "in",
    "not_in": "not in",
    "contains_any": "contains any of",
}


def describe(
    rule: Rule | None, labels: Callable[[str], str] | None = None, words: Mapping[str, str] | None = None
) -> str:
    """A one-line human reading of a rule, e.g. ``channel = web AND (kind in [visit, inquiry])``."""
    if rule is None:
        return "–"
    label = labels or (lambda name: name)
    word = {**DESCRIBE_WORDS, **(words or {})}
    if isinstance(rule, Group):
        joiner = f" {word['and']} " if rule.mode == "all" else f" {word['or']} "
        parts = [describe(item, labels, words) for item in rule.items]
        parts = [
            f"({p})" if isinstance(item, Group) and len(item.items) > 1 else p
            for p, item in zip(parts, rule.items, strict=True)
        ]
        return joiner.join(parts)
    symbols = {"eq": "=", "ne": "≠", "gt": ">", "lt": "<"}
    if rule.op in symbols:
        return f"{label(rule.field)} {symbols[rule.op]} {rule.value}"
    if rule.op in ("is_null", "not_null"):
        return f"{label(rule.field)} {word[rule.op]}"
    return f"{label(rule.field)} {word[rule.op]} [{', '.join(str(v) for v in rule.value)}]"


# --------------------------------------------------------------------------------------------- compiling


#: Name of the temporary normalised copy of a text field searched by contains_any.
def folded_column(field: str) -> str:
    return f"__cx_folded_{field}"


def fold_text(expr: pl.Expr) -> pl.Expr:
    """NFKC + lower case: the normal form both keywords and searched text are compared in."""
    return expr.str.normalize("NFKC").str.to_lowercase()


def fold_keyword(keyword: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", keyword).lower()


def _blank_as_null(field: str) -> pl.Expr:
    column = pl.col(field)
    if field in _TEXT:
        return pl.when(column.str.strip_chars() == "").then(None).otherwise(column)
    return column


def compile_rule(rule: Rule, *, folded: bool = False) -> pl.Expr:
    """A boolean polars expression that is true exactly where ``rule`` matches (never null).

    With ``folded`` contains_any reads the column named :func:`folded_column` (added once per searched field by
    :func:`with_folded`), so several rules searching ``text`` normalise it only once (the ETL step does this).
    """
    if isinstance(rule, Group):
        exprs = [compile_rule(item, folded=folded) for item in rule.items]
        return pl.all_horizontal(exprs) if rule.mode == "all" else pl.any_horizontal(exprs)
    column = pl.col(rule.field)
    op, value = rule.op, rule.value
    if op == "is_null":
        return _blank_as_null(rule.field).is_null()
    if op == "not_null":
        return _blank_as_null(rule.field).is_not_null()
    if op == "eq":
        return column.eq_missing(pl.lit(value)).fill_null(False)
    if op == "ne":
        return column.ne_missing(pl.lit(value)).fill_null(True)
    if op == "in":
        return column.is_in(list(value)).fill_null(False)
    if op == "not_in":
        return column.is_in(list(value)).fill_null(False).not_()
    if op == "gt":
        return (column > value).fill_null(False)
    if op == "lt":
        return (column < value).fill_null(False)
    if op == "contains_any":
        source = pl.col(folded_column(rule.field)) if folded else fold_text(column)
        return source.str.contains_any([fold_keyword(k) for k in value]).fill_null(False)
    raise AssertionError(f"unhandled operator {op}")  # parse_rule admits only OPS


def with_folded(frame: pl.LazyFrame, fields: set[str]) -> pl.LazyFrame:
    """Add the normalised copies of ``fields`` that compiled contains_any conditions read."""
    return frame.with_columns(fold_text(pl.col(f)).alias(folded_column(f)) for f in sorted(fields)) if fields else frame


def ensure_fields(frame: pl.LazyFrame, fields: set[str]) -> pl.LazyFrame:
    """Add missing canonical ``fields`` as typed null columns (a source without ``text`` simply never matches)."""
    schema = frame.collect_schema()
    missing = [f for f in sorted(fields) if f not in schema]
    untyped = [f for f in sorted(fields) if f in schema and schema[f] == pl.Null]  # an all-null column
    exprs = [pl.lit(None, dtype=CANONICAL_FIELDS[f]).alias(f) for f in missing]
    exprs += [pl.col(f).cast(CANONICAL_FIELDS[f]) for f in untyped]
    return frame.with_columns(exprs) if exprs else frame


def matches(frame: pl.LazyFrame, rule: Rule) -> pl.LazyFrame:
    """The rows of ``frame`` where ``rule`` matches (missing fields count as null)."""
    fields = rule_fields(rule)
    prepared = with_folded(ensure_fields(frame, fields), keyword_fields(rule))
    return prepared.filter(compile_rule(rule, folded=True)).select(frame.collect_schema().names())


_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def is_slug(value: object) -> bool:
    """A key for stages, touchpoints and KPIs: lower-case letters, digits and _, starting with a letter."""
    return isinstance(value, str) and bool(_SLUG.match(value))
