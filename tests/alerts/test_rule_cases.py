"""Table-driven rule tests (tests/alerts/data/rule_cases.yaml): rows in, evaluation times, exactly the alerts expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.alerts.harness import evaluate, load_facts, load_interactions, save_rules

CASES = yaml.safe_load((Path(__file__).parent / "data" / "rule_cases.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rule_case(engine, settings, case) -> None:
    rows = case.get("interactions", [])
    staged = {e for ev in case["evaluations"] for e in ev.get("load", [])}
    load_interactions(engine, [r for r in rows if r.get("batch", 1) not in staged])
    load_facts(engine, case.get("facts", []))
    save_rules(engine, case.get("rules") or [case["rule"]])
    for step in case["evaluations"]:
        for batch in step.get("load", []):
            load_interactions(engine, [r for r in rows if r.get("batch", 1) == batch])
        created = evaluate(engine, settings, step["at"], full=step.get("full", False))
        assert created == sorted(step["expect"]), f"at {step['at']}"
