"""Rule documents: valid ones round-trip through YAML; bad and hostile ones are refused with exact messages."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from alerts import rulebook
from alerts.rules import parse_rule, rule_problems
from cx.db import transaction
from cx.errors import ConflictError, PermissionDenied, RuleConfigError
from cx.models import AlertRule, AuditEntry

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "name": "Repeat contacts without resolution",
    "level": "warning",
    "scope": {"kind": "customer", "window": "7d"},
    "filter": {
        "any": [
            {"field": "channel", "op": "in", "value": ["phone", "chat"]},
            {"field": "text", "op": "contains_any", "value": ["投诉", "complaint"]},
        ]
    },
    "condition": {
        "all": [{"metric": "contacts", "op": "ge", "value": 3}, {"metric": "resolved", "op": "eq", "value": 0}]
    },
    "notify": [
        {"method": "inapp"},
        {"method": "email"},
        {"method": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"},
    ],
    "owners": [{"touchpoint_owner": True}, {"team": "hotline_a"}],
    "escalation": {
        "steps": [{"after": "30m", "to": {"user": "owner2"}}, {"after": "2h", "to": {"team": "hotline_b"}}],
        "repeat": 1,
    },
    "ack_within": "1h",
    "cooldown": "3d",
    "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"},
}
TREND = {
    "name": "NPS down month over month",
    "level": "critical",
    "scope": {"kind": "trend", "window": "30d", "by": "touchpoint", "compare": "mom"},
    "condition": {
        "all": [
            {"metric": "nps", "of": "change", "op": "lt", "value": -10},
            {"metric": "nps_responses", "op": "ge", "value": 30},
        ]
    },
}
SLA = {
    "name": "Repair open more than 48 h",
    "level": "warning",
    "scope": {"kind": "sla", "lookback": "30d"},
    "filter": {"field": "touchpoint", "op": "eq", "value": "repair"},
    "condition": {"metric": "open_hours", "op": "gt", "value": 48},
}


@pytest.mark.parametrize("document", [GOOD, TREND, SLA], ids=["customer", "trend", "sla"])
def test_good_rules_round_trip(document) -> None:
    spec = parse_rule(document)
    again = parse_rule(yaml.safe_load(yaml.safe_dump(spec.to_dict(), allow_unicode=True)))
    assert again == spec and again.to_dict() == spec.to_dict()


def _changed(path: str, value: object) -> dict:
    document = copy.deepcopy(GOOD)
    target = document
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[keys[-1]]
    elif isinstance(target, list):
        target[int(keys[-1])] = value
    else:
        target[keys[-1]] = value
    return document


_DELETE = object()

BAD = [
    ("level", "urgent", "level: 'urgent' is not one of info, warning, critical"),
    ("name", "", "name: give the rule a name"),
    ("scope.kind", "weekly", "scope.kind: 'weekly' is not one of interaction, customer, aggregate, trend, sla"),
    ("scope.window", "7 days", "scope.window: '7 days' is not a duration; write it like 30m, 2h or 7d"),
    ("scope.window", "400d", "scope.window: 400d is out of range; use 1m to 366d"),
    ("condition.all.0.op", "gte", "condition.all[0].op: unknown operator 'gte'; use one of gt, ge, lt, le, eq, ne"),
    ("condition.all.0.metric", "csat", "condition.all[0].metric: unknown metric 'csat' for a customer rule"),
    ("condition.all.0.value", "3", "condition.all[0].value: the threshold must be a number, not '3'"),
    (
        "condition.all.1",
        {"field": "kind", "op": "eq", "value": "complaint"},
        "condition.all[1]: a field condition is not allowed here",
    ),
    ("filter.any.0.value", ["phone", "fax"], "filter.any[0].value[1]: unknown channel 'fax'"),
    ("filter.any.1.op", "regex", "filter.any[1].op: unknown operator 'regex'"),
    ("notify.2.url", "ftp://example.com/x", "notify[2].url: wecom needs an http(s) URL, not 'ftp://example.com/x'"),
    (
        "notify.0",
        {"method": "sms"},
        "notify[0].method: 'sms' is not one of inapp, email, webhook, wecom, dingtalk, slack",
    ),
    ("owners.1", {"group": "x"}, "owners[1]: {'group': 'x'} is not an owner"),
    ("escalation.steps.0.after", "0m", "escalation.steps[0].after: 0m is out of range"),
    ("escalation.repeat", 99, "escalation.repeat: a whole number from 0 to 20, not 99"),
    ("business_hours.start", "25:00", "business_hours.start: '25:00' is not a time"),
    ("business_hours.end", "08:00", "business_hours: start must be before end"),
    ("cooldown", 60, "cooldown: 60 is not a duration"),
    ("surprise", 1, "unknown settings ['surprise']"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[b[0] + ":" + str(b[1])[:20] for b in BAD])
def test_bad_rules_say_exactly_what_is_wrong(path, value, message) -> None:
    problems = rule_problems(_changed(path, value))
    assert any(p.startswith(message) for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    document = _changed("level", "urgent")
    document["scope"]["window"] = "soon"
    assert len(rule_problems(document)) == 2


def test_interaction_rules_test_fields_in_the_condition() -> None:
    problems = rule_problems(
        {
            "name": "x",
            "level": "info",
            "scope": {"kind": "interaction"},
            "condition": {"metric": "contacts", "op": "ge", "value": 1},
        }
    )
    assert problems == [
        "condition: a metric condition is not allowed here; interaction rules test fields in "
        "'condition'; other scopes put field tests in 'filter'"
    ]


# --------------------------------------------------------------------------------------------- hostile input

HOSTILE = [
    (
        "code in a numeric value",
        {
            "name": "x",
            "level": "info",
            "scope": {"kind": "interaction"},
            "condition": {"field": "queue_wait_s", "op": "gt", "value": "__import__('os').system('rm -rf /')"},
        },
        "condition.value: queue_wait_s is a number, so the value must be a number",
    ),
    (
        "code as a field name",
        {
            "name": "x",
            "level": "info",
            "scope": {"kind": "interaction"},
            "condition": {"field": "__import__('os').system('id')", "op": "eq", "value": 1},
        },
        "condition.field: unknown field \"__import__('os').system('id')\"",
    ),
    (
        "code as a metric",
        {
            "name": "x",
            "level": "info",
            "scope": {"kind": "customer", "window": "1d"},
            "condition": {"metric": "os.system('id')", "op": "gt", "value": 1},
        },
        "condition.metric: unknown metric \"os.system('id')\"",
    ),
    (
        "code as an operator",
        {
            "name": "x",
            "level": "info",
            "scope": {"kind": "customer", "window": "1d"},
            "condition": {"metric": "contacts", "op": "lambda: 1", "value": 1},
        },
        "condition.op: unknown operator 'lambda: 1'",
    ),
    (
        "a huge string",
        {"name": "x" * 10_000_000, "level": "info"},
        "a text of 10000000 characters is too long (at most 2000); shorten it",
    ),
    (
        "too many parts",
        {
            "name": "x",
            "level": "info",
            "scope": {"kind": "interaction"},
            "condition": {"any": [{"field": "kind", "op": "eq", "value": "complaint"}] * 6000},
        },
        "the rule is too large (more than 5000 parts); split it into several rules",
    ),
    (
        "too many conditions",
        {
            "name": "x",
            "level": "info",
            "scope": {"kind": "interaction"},
            "condition": {"any": [{"field": "kind", "op": "eq", "value": "complaint"}] * 60},
        },
        "condition: 60 conditions is too many; keep to 50 or fewer",
    ),
]


@pytest.mark.parametrize(("label", "document", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_rules_are_rejected_clearly(label, document, message) -> None:
    with pytest.raises(RuleConfigError) as caught:
        parse_rule(document)
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


def _nested(depth: int) -> dict:
    node: dict = {"field": "kind", "op": "eq", "value": "complaint"}
    for _ in range(depth):
        node = {"all": [node]}
    return node


def test_deep_trees_are_rejected_without_recursing() -> None:
    document = {"name": "x", "level": "info", "scope": {"kind": "interaction"}, "condition": _nested(100_000)}
    with pytest.raises(RuleConfigError, match="nested too deeply"):
        parse_rule(document)
    shallow = {"name": "x", "level": "info", "scope": {"kind": "interaction"}, "condition": _nested(6)}
    assert any("groups nested deeper than 5 levels" in p for p in rule_problems(shallow))
    assert rule_problems({**shallow, "condition": _nested(5)}) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - !!python/object/apply:os.system ['id']\n", "The file is not valid YAML"),
        ("rules: " + "[" * 5000 + "]" * 5000, "The file nests brackets more than 40 deep"),
        ("just text", "A rules file has a top-level 'rules:' list"),
        ("rules:\n  - " + "x" * 3_000_000, "The file is larger than 2 MB"),
    ],
    ids=["python tag", "deep brackets", "not rules", "huge"],
)
def test_hostile_yaml_files_are_rejected(text, message) -> None:
    with pytest.raises(RuleConfigError, match=message):
        rulebook.load_yaml(text)


# --------------------------------------------------------------------------------------------- store & YAML


def test_save_update_conflict_and_audit(engine, people) -> None:
    with transaction(engine) as s:
        rule = rulebook.save_rule(s, people["owner"], GOOD)
        rule_id = rule.id
    with transaction(engine) as s:
        changed = {**GOOD, "level": "critical"}
        assert rulebook.save_rule(s, people["owner"], changed, rule_id=rule_id, expected_version=1).version == 2
    with transaction(engine) as s, pytest.raises(ConflictError, match="changed by someone else"):
        rulebook.save_rule(s, people["owner"], GOOD, rule_id=rule_id, expected_version=1)
    with transaction(engine) as s, pytest.raises(RuleConfigError, match="exists already"):
        rulebook.save_rule(s, people["owner"], GOOD)
    with transaction(engine) as s, pytest.raises(PermissionDenied):
        rulebook.save_rule(s, people["agent"], {**GOOD, "name": "other"})
    with transaction(engine) as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "alert_rule")).all()
        assert actions == ["rule.create", "rule.update"]


def test_owners_must_exist_in_the_store(engine, people) -> None:
    document = _changed("owners.1", {"team": "no-such-team"})
    document["escalation"]["steps"][0]["to"] = {"user": "nobody"}
    with transaction(engine) as s, pytest.raises(RuleConfigError) as caught:
        rulebook.save_rule(s, people["owner"], document)
    assert caught.value.problems == [
        "owners[1].team: there is no team 'no-such-team'; choose one of the known teams",
        "escalation.steps[0].to.user: there is no active user 'nobody'; choose another owner",
    ]


def test_yaml_export_import_round_trip_is_all_or_nothing(engine, people) -> None:
    with transaction(engine) as s:
        for document in (GOOD, TREND, SLA):
            rulebook.save_rule(s, people["owner"], document)
        exported = rulebook.export_yaml(s)
    data = yaml.safe_load(exported)
    assert [r["name"] for r in data["rules"]] == sorted(d["name"] for d in (GOOD, TREND, SLA))
    data["rules"][0]["level"] = "info"
    data["rules"].append({**TREND, "name": "broken", "level": "loud"})
    with transaction(engine) as s, pytest.raises(RuleConfigError) as caught:
        rulebook.import_yaml(s, people["owner"], yaml.safe_dump(data, allow_unicode=True))
    assert caught.value.problems == ["rules[3] 'broken': level: 'loud' is not one of info, warning, critical"]
    data["rules"].pop()
    with transaction(engine) as s:
        result = rulebook.import_yaml(s, people["owner"], yaml.safe_dump(data, allow_unicode=True))
    assert result.created == [] and len(result.updated) == 3
    with transaction(engine) as s:
        first = s.scalar(select(AlertRule).where(AlertRule.name == data["rules"][0]["name"]))
        assert first.level == "info" and first.version == 2


def test_cli_export_and_import(db_url, engine, people, tmp_path) -> None:
    with transaction(engine) as s:
        rulebook.save_rule(s, people["owner"], SLA)
    out = tmp_path / "rules.yaml"
    env = {"CX_ADMIN_PASSWORD": "cli-test-password", "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "alerts", "rules"]
    done = subprocess.run([*run, "export", str(out), "--db", db_url], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = out.read_text("utf-8")
    assert "Repair open more than 48 h" in text
    out.write_text(text.replace("Repair open more than 48 h", "Repair copy"), "utf-8")
    done = subprocess.run([*run, "import", str(out), "--db", db_url], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "created 1 rules, updated 0" in done.stdout, done.stderr
    out.write_text("rules: [{name: x, level: loud}]", "utf-8")
    done = subprocess.run([*run, "import", str(out), "--db", db_url], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "level: 'loud' is not one of info, warning, critical" in done.stderr


def test_starter_rules_install_once(engine) -> None:
    with transaction(engine) as s:
        result = rulebook.install_default_rules(s)
    assert len(result.created) == 5
    with transaction(engine) as s:
        assert rulebook.install_default_rules(s).created == []
        assert all(rulebook.scope_summary(r) != "–" for r in rulebook.list_rules(s))
