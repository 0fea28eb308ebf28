"""Rules evaluated together (alerts.evaluation) find exactly what each finds alone (alerts.scopes), on random data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from alerts import evaluation, scopes
from alerts.frames import INTERACTION_DTYPES
from alerts.rules import parse_rule

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
TOUCHPOINTS = ["repair", "billing", "shipping", None]
CHANNELS = ["phone", "chat", "email", None]
TEXTS = ["我要投诉", "Complaint about repair", "thanks", "ＣＯＭＰＬＡＩＮ loudly", None, "维修太慢"]


def _rows(seed: int, count: int = 1500) -> pl.DataFrame:
    rng = random.Random(seed)
    seconds = rng.sample(range(0, 20 * 86_400), count)  # distinct times: "last" and "tail" are well defined
    data: dict[str, list[Any]] = {
        "interaction_id": [f"i{n}" for n in range(count)],
        "occurred_at": [NOW - timedelta(seconds=s) for s in seconds],
        "profile_id": [
            rng.choice([f"P{rng.randrange(40)}", None]) if rng.random() < 0.1 else f"P{rng.randrange(40)}"
            for _ in range(count)
        ],
        "touchpoint": [rng.choice(TOUCHPOINTS) for _ in range(count)],
        "channel": [rng.choice(CHANNELS) for _ in range(count)],
        "kind": [rng.choice(["complaint", "inquiry", None]) for _ in range(count)],
        "text": [rng.choice(TEXTS) for _ in range(count)],
        "queue_wait_s": [rng.choice([None, rng.uniform(0, 900)]) for _ in range(count)],
        "resolved": [rng.choice([True, False, False, None]) for _ in range(count)],
        "abandoned": [rng.choice([True, False, None]) for _ in range(count)],
        "nps": [rng.choice([None, rng.randrange(11)]) for _ in range(count)],
        "csat": [rng.choice([None, rng.randrange(1, 6)]) for _ in range(count)],
        "ces": [rng.choice([None, rng.randrange(1, 8)]) for _ in range(count)],
        "case_id": [rng.choice([None, f"C{rng.randrange(30)}"]) for _ in range(count)],
        "batch_id": [rng.choice([1, 2, 3, None]) for _ in range(count)],
    }
    return pl.DataFrame(data, schema={name: INTERACTION_DTYPES[name] for name in data}).sort("occurred_at")


def _interaction_rules() -> list[tuple[dict[str, Any], int | None]]:
    conditions = [
        {"field": "text", "op": "contains_any", "value": ["投诉", "complain"]},
        {
            "all": [
                {"field": "kind", "op": "eq", "value": "complaint"},
                {"field": "channel", "op": "in", "value": ["phone", "chat"]},
            ]
        },
        {"any": [{"field": "queue_wait_s", "op": "gt", "value": 600}, {"field": "touchpoint", "op": "is_null"}]},
        {
            "all": [
                {"field": "text", "op": "contains_any", "value": ["维修", "repair"]},
                {"field": "kind", "op": "ne", "value": "complaint"},
            ]
        },
    ]
    rules = []
    for i, condition in enumerate(conditions * 2):
        scope = {"kind": "interaction", "max_age": ["2d", "10d", "6h"][i % 3]}
        rules.append(({"name": f"i{i}", "level": "info", "scope": scope, "condition": condition}, [None, 1, 2][i % 3]))
    return rules


def _customer_rules() -> list[tuple[dict[str, Any], int | None]]:
    filters = [
        None,
        {"field": "touchpoint", "op": "in", "value": ["repair", "billing"]},
        {"field": "text", "op": "contains_any", "value": ["complain", "投诉"]},
        {
            "any": [
                {"field": "channel", "op": "eq", "value": "phone"},
                {"field": "kind", "op": "eq", "value": "complaint"},
            ]
        },
    ]
    conditions = [
        {"all": [{"metric": "contacts", "op": "ge", "value": 3}, {"metric": "resolved", "op": "eq", "value": 0}]},
        {"metric": "complaints", "op": "ge", "value": 2},
        {"any": [{"metric": "unresolved", "op": "gt", "value": 3}, {"metric": "abandoned", "op": "ge", "value": 2}]},
        {"all": [{"metric": "channels", "op": "ge", "value": 2}, {"metric": "touchpoints", "op": "le", "value": 2}]},
        {
            "any": [
                {"metric": "min_nps", "op": "lt", "value": 3},
                {"metric": "min_csat", "op": "le", "value": 1},
                {"metric": "min_ces", "op": "ge", "value": 7},
            ]
        },
        {"metric": "resolved", "op": "eq", "value": 0},
    ]
    rules = []
    for i in range(18):
        document = {
            "name": f"c{i}",
            "level": "warning",
            "scope": {"kind": "customer", "window": ["1d", "3d", "7d", "12h"][i % 4]},
            "condition": conditions[i % len(conditions)],
        }
        if filters[i % len(filters)] is not None:
            document["filter"] = filters[i % len(filters)]
        rules.append((document, [None, 1, 2][i % 3]))
    return rules


def _sla_rules() -> list[dict[str, Any]]:
    rules = []
    for i in range(6):
        document = {
            "name": f"s{i}",
            "level": "warning",
            "scope": {"kind": "sla", "lookback": ["30d", "5d", "2d"][i % 3]},
            "condition": [
                {"metric": "open_hours", "op": "gt", "value": 24},
                {
                    "all": [
                        {"metric": "contacts", "op": "ge", "value": 2},
                        {"metric": "open_hours", "op": "le", "value": 100},
                    ]
                },
            ][i % 2],
        }
        if i % 3:
            document["filter"] = {"field": "touchpoint", "op": "eq", "value": "repair"}
        rules.append(document)
    return rules


def _alone(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{**row, "metrics": row["metrics"] or None} for row in frame.to_dicts()] if not frame.is_empty() else []


@pytest.mark.parametrize("seed", range(4))
def test_interaction_rules_together_find_what_each_finds_alone(seed: int) -> None:
    rows = _rows(seed)
    entries = [(i, parse_rule(doc), mark) for i, (doc, mark) in enumerate(_interaction_rules())]
    together = evaluation.interaction_many(entries, rows, NOW)
    found = 0
    for key, spec, mark in entries:
        mine = rows.filter(pl.col("occurred_at") > NOW - spec.scope.max_age)
        if mark is not None:
            mine = mine.filter(pl.col("batch_id") > mark)
        alone = _alone(scopes.interaction_candidates(spec, mine))
        assert together[key] == alone, spec.name
        found += len(alone)
    assert found > 0


@pytest.mark.parametrize("seed", range(4))
def test_customer_rules_together_find_what_each_finds_alone(seed: int) -> None:
    rows = _rows(seed)
    entries = [(i, parse_rule(doc), mark) for i, (doc, mark) in enumerate(_customer_rules())]
    together = evaluation.customer_many(entries, rows, rows, NOW)
    found = 0
    for key, spec, mark in entries:
        mine = rows
        if mark is not None:
            touched = rows.filter(pl.col("batch_id") > mark)["profile_id"].drop_nulls().unique()
            mine = rows.filter(pl.col("profile_id").is_in(touched.implode()))
        alone = _alone(scopes.customer_candidates(spec, mine, NOW))
        assert together[key] == alone, spec.name
        found += len(alone)
    assert found > 0


@pytest.mark.parametrize("seed", range(4))
def test_sla_rules_together_find_what_each_finds_alone(seed: int) -> None:
    rows = _rows(seed)
    entries = [(i, parse_rule(doc), None) for i, doc in enumerate(_sla_rules())]
    together = evaluation.sla_many(entries, rows, NOW)
    found = 0
    for key, spec, _mark in entries:
        alone = _alone(scopes.sla_candidates(spec, rows, NOW))
        assert together[key] == alone, spec.name
        found += len(alone)
    assert found > 0


def test_no_rows_no_candidates() -> None:
    empty = _rows(0).clear()
    spec = parse_rule(_customer_rules()[0][0])
    assert evaluation.customer_many([("k", spec, None)], empty, empty, NOW) == {"k": []}
    assert evaluation.sla_many([("k", parse_rule(_sla_rules()[0]), None)], empty, NOW) == {"k": []}
    assert evaluation.interaction_many([("k", parse_rule(_interaction_rules()[0][0]), None)], empty, NOW) == {"k": []}
