"""The journey map: rule validation and semantics, touchpoint assignment, storage with optimistic locking, history."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, func, select, true

from cx import journey as jm
from cx import journey_view as jv
from cx import paths
from cx.access import Principal, Role
from cx.db import transaction
from cx.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from cx.journey_rules import MAX_DEPTH, RuleError, compile_rule, describe, matches, parse_rule
from cx.journey_store import JourneyConflictError, NothingChangedError, rule_preview
from cx.models import AuditEntry, Interaction, JourneyVersion, User

# --------------------------------------------------------------------------------------------- rules

ROWS = pl.LazyFrame(
    {
        "channel": ["web", "app", "phone", "phone", None, "wechat"],
        "kind": ["visit", "purchase", "complaint", None, "inquiry", "praise"],
        "text": ["看看价格", "Order PAID", "快递三天没到", "  ", "ＡＰＰ keeps crashing", None],
        "nps": [None, 9, 3, 6, None, 10],
        "handle_s": [None, None, 320.0, 45.0, None, None],
        "resolved": [None, True, False, True, None, None],
    },
    schema_overrides={"nps": pl.Int8},
)


def _matched(rule: dict) -> list[int]:
    mask = ROWS.select(compile_rule(parse_rule(rule)).alias("m")).collect()["m"]
    return [i for i, hit in enumerate(mask) if hit]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "channel", "op": "eq", "value": "phone"}, [2, 3]),
        # ne / not_in are true for a missing value ("kind is not purchase" includes rows without a kind)
        ({"field": "kind", "op": "ne", "value": "purchase"}, [0, 2, 3, 4, 5]),
        ({"field": "channel", "op": "in", "value": ["web", "app"]}, [0, 1]),
        ({"field": "channel", "op": "not_in", "value": ["web", "app"]}, [2, 3, 4, 5]),
        # case-insensitive, NFKC (full-width ＡＰＰ), Chinese and English keywords
        ({"field": "text", "op": "contains_any", "value": ["paid", "价格"]}, [0, 1]),
        ({"field": "text", "op": "contains_any", "value": ["app", "快递"]}, [2, 4]),
        # a blank string counts as empty
        ({"field": "text", "op": "is_null"}, [3, 5]),
        ({"field": "text", "op": "not_null"}, [0, 1, 2, 4]),
        ({"field": "nps", "op": "lt", "value": 7}, [2, 3]),
        ({"field": "nps", "op": "gt", "value": 8}, [1, 5]),
        ({"field": "handle_s", "op": "gt", "value": 60}, [2]),
        ({"field": "resolved", "op": "eq", "value": False}, [2]),
        ({"all": [{"field": "channel", "op": "eq", "value": "phone"}, {"field": "nps", "op": "lt", "value": 5}]}, [2]),
        (
            {
                "any": [
                    {"field": "kind", "op": "eq", "value": "praise"},
                    {
                        "all": [
                            {"field": "channel", "op": "eq", "value": "app"},
                            {"field": "resolved", "op": "eq", "value": True},
                        ]
                    },
                ]
            },
            [1, 5],
        ),
    ],
)
def test_rule_operators_match_as_specified(rule: dict, expected: list[int]) -> None:
    assert _matched(rule) == expected


def test_rule_round_trips_through_its_dict_form() -> None:
    data = {
        "all": [
            {"field": "channel", "op": "in", "value": ["web", "app"]},
            {
                "any": [
                    {"field": "text", "op": "contains_any", "value": ["退款", "refund"]},
                    {"field": "nps", "op": "is_null"},
                ]
            },
        ]
    }
    rule = parse_rule(data)
    assert rule.to_dict() == data
    assert parse_rule(yaml.safe_load(yaml.safe_dump(rule.to_dict(), allow_unicode=True))) == rule
    assert describe(rule) == "channel in [web, app] AND (text contains any of [退款, refund] OR nps is empty)"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"field": "colour", "op": "eq", "value": "red"}, "rule.field: unknown field 'colour'"),
        (
            {"field": "touchpoint", "op": "eq", "value": "x"},
            "a rule decides the touchpoint and stage, it cannot test them",
        ),
        ({"field": "channel", "op": "like", "value": "web"}, "rule.op: unknown operator 'like'"),
        ({"field": "channel", "op": "eq", "value": "fax"}, "rule.value: unknown channel 'fax'; use one of phone"),
        ({"field": "channel", "op": "eq", "value": ["web"]}, "rule.value: eq takes one value"),
        ({"field": "nps", "op": "gt", "value": "6"}, "rule.value: nps is a number, so the value must be a number"),
        ({"field": "text", "op": "gt", "value": 3}, "rule.op: gt compares numbers; text is not numeric"),
        ({"field": "nps", "op": "contains_any", "value": ["6"]}, "contains_any searches text; nps is not a text field"),
        ({"field": "text", "op": "contains_any", "value": []}, "contains_any takes a non-empty list of values"),
        (
            {"field": "text", "op": "contains_any", "value": ["ok", ""]},
            "rule.value[1]: keywords must be non-empty text",
        ),
        ({"field": "text", "op": "is_null", "value": "x"}, "rule.value: is_null takes no value"),
        ({"field": "occurred_at", "op": "eq", "value": "2026-01-01"}, "occurred_at can only be tested with is_null"),
        ({"all": []}, "rule.all: expected a non-empty list of conditions"),
        ({"all": [{"field": "kind", "op": "eq", "value": "visit"}], "any": []}, "a group has exactly one key"),
        ("channel == web", "rule: expected a mapping"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(rule: object, problem: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert isinstance(caught.value, ValidationError)


def test_rules_are_bounded_in_depth_and_size() -> None:
    leaf = {"field": "kind", "op": "eq", "value": "visit"}
    deep: dict = leaf
    for _ in range(MAX_DEPTH + 1):
        deep = {"all": [deep]}
    with pytest.raises(RuleError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_rule(deep)
    with pytest.raises(RuleError, match="51 conditions is too many"):
        parse_rule({"any": [leaf] * 51})
    with pytest.raises(RuleError, match="201 values is too many"):
        parse_rule({"field": "text", "op": "contains_any", "value": [f"w{i}" for i in range(201)]})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule({"all": [{"field": "x", "op": "eq", "value": 1}, {"field": "kind", "op": "eq", "value": "nope"}]})
    assert len(caught.value.problems) == 2
    assert "rule.all[0].field" in caught.value.problems[0] and "rule.all[1].value" in caught.value.problems[1]


def test_matches_treats_a_missing_field_as_null() -> None:
    frame = pl.LazyFrame({"channel": ["web", "app"]})
    assert matches(frame, parse_rule({"field": "text", "op": "is_null"})).collect().height == 2
    assert matches(frame, parse_rule({"field": "kind", "op": "ne", "value": "visit"})).collect()[
        "channel"
    ].to_list() == [
        "web",
        "app",
    ]


# --------------------------------------------------------------------------------------------- model & assignment


def _tp(key: str, rule: dict | None, department: str | None = "service") -> jm.TouchpointModel:
    return jm.TouchpointModel(key, key.title(), key, department, rule=parse_rule(rule) if rule else None)


MAP = jm.JourneyModel(
    "test",
    "Test",
    "测试",
    (
        jm.StageModel(
            "buy", "Buy", "购买", (_tp("checkout", {"field": "kind", "op": "eq", "value": "purchase"}, "product"),)
        ),
        jm.StageModel(
            "care",
            "Care",
            "服务",
            (
                _tp("refund", {"field": "text", "op": "contains_any", "value": ["退款", "refund"]}),
                _tp("hotline", {"field": "channel", "op": "eq", "value": "phone"}),
                _tp("no_rule", None, None),
            ),
        ),
    ),
)


def test_assign_touchpoints_fills_only_what_the_source_left_empty() -> None:
    interactions = pl.LazyFrame(
        {
            "record_id": ["1", "2", "3", "4", "5", "6", "7"],
            "channel": ["app", "phone", "phone", "phone", "web", "phone", "phone"],
            "kind": ["purchase", "complaint", "inquiry", "complaint", "visit", "purchase", "inquiry"],
            "text": [None, "我要退款", "where is it", None, None, "REFUND please", "hi"],
            "touchpoint": [None, None, "", "checkout", None, None, None],
            "stage": [None, None, None, None, None, "care", "unknown"],
        }
    )
    out = jm.assign_touchpoints(interactions, MAP).collect()
    expected = pl.DataFrame(
        {
            "record_id": ["1", "2", "3", "4", "5", "6", "7"],
            # 1: rule; 2: first matching rule in map order wins (refund before hotline); 3: blank = empty;
            # 4: source-given kept, stage from the map; 5: nothing matches; 6: the source-given stage narrows the
            # candidates (purchase would match checkout, but the source says care); 7: unknown stage, no candidates
            "touchpoint": ["checkout", "refund", "hotline", "checkout", None, "refund", None],
            "stage": ["buy", "care", "care", "buy", None, "care", "unknown"],
        }
    )
    assert_frame_equal(out.select("record_id", "touchpoint", "stage"), expected)
    assert out.columns == ["record_id", "channel", "kind", "text", "touchpoint", "stage"]


def test_assign_touchpoints_adds_missing_columns_and_keeps_others() -> None:
    out = jm.assign_touchpoints(pl.LazyFrame({"channel": ["phone"], "extra": ["{}"]}), MAP).collect()
    assert out.columns == ["channel", "extra", "touchpoint", "stage"]
    assert out.row(0) == ("phone", "{}", "hotline", "care")


def test_assign_touchpoints_is_lazy_and_has_no_python_per_row() -> None:
    plan = jm.assign_touchpoints(pl.LazyFrame({"channel": ["phone"]}), MAP).explain()
    assert "python" not in plan.lower() and "map_elements" not in plan


def test_default_journey_file_is_valid_and_round_trips() -> None:
    journey = jm.default_journey()
    assert [s.key for s in journey.stages][:4] == ["pre_sale", "purchase", "delivery", "usage"]
    assert jm.parse_journey(yaml.safe_load(jm.journey_to_yaml(journey))) == journey
    departments = jm.touchpoint_departments(journey)
    assert departments["shipping"] == "delivery" and departments["feedback_survey"] == "executive"
    assert set(departments) == {tp.key for tp in journey.touchpoints}
    survey = pl.LazyFrame({"channel": ["survey"], "kind": ["survey"], "text": ["物流太慢了"]})
    # the map order decides: shipping (delivery stage) comes before feedback_survey (loyalty stage)
    assert jm.assign_touchpoints(survey, journey).collect().row(0)[-2:] == ("shipping", "delivery")


def test_invalid_journey_lists_every_problem() -> None:
    data = {
        "key": "Bad Key",
        "name": {"en": "x"},
        "stages": [
            {"key": "a", "name": {"en": "A", "zh": "甲"}, "touchpoints": [
                {"key": "t", "name": {"en": "T", "zh": "T"}, "owner_department": "sales", "channels": ["fax"]},
                {"key": "t", "name": {"en": "T", "zh": "T"}, "kpis": ["happiness"], "targets": {"nps": "high"}},
            ]},
            {"key": "a", "name": {"en": "A", "zh": "甲"}},
        ],
    }  # fmt: skip
    with pytest.raises(jm.JourneyConfigError) as caught:
        jm.parse_journey(data)
    text = "\n".join(caught.value.problems)
    for fragment in (
        "key: 'Bad Key' is not a key",
        "name.zh: a name is required in both languages",
        "unknown department 'sales'",
        "expected a list of channels",
        "the touchpoint key 't' is used twice",
        "expected a list of KPIs",
        "targets.nps: the target must be a number",
        "the stage key 'a' is used twice",
    ):
        assert fragment in text, fragment


def test_pure_edits_and_diff() -> None:
    edited = jm.edit_add_stage(MAP, "loyal", "Loyalty", "忠诚", index=1)
    edited = jm.edit_move_touchpoint(edited, "hotline", "loyal")
    edited = jm.edit_update_touchpoint(edited, "refund", owner_department="delivery", targets={"nps": 20})
    edited = jm.edit_move_stage(edited, "buy", 2)
    changes = {(c.kind, c.object, c.key, c.field) for c in jm.diff_journeys(MAP, edited)}
    assert changes == {
        ("added", "stage", "loyal", None),
        ("moved", "stage", "buy", "position"),
        ("moved", "touchpoint", "hotline", "position"),  # no_rule only shifted up: not reported as moved
        ("changed", "touchpoint", "refund", "owner_department"),
        ("changed", "touchpoint", "refund", "targets"),
    }
    swapped = jm.edit_move_stage(MAP, "care", 0)
    assert [(c.kind, c.key, c.old, c.new) for c in jm.diff_journeys(MAP, swapped)] == [
        ("moved", "buy", 1, 2),
        ("moved", "care", 2, 1),
    ]
    assert jm.diff_journeys(MAP, jm.edit_delete_touchpoint(MAP, "refund"))[0].names == ("Refund", "refund")
    with pytest.raises(jm.JourneyConfigError, match="still has 2 touchpoints; move or delete them first"):
        jm.edit_delete_stage(edited, "care")
    with pytest.raises(jm.JourneyConfigError, match="exists already"):
        jm.edit_add_touchpoint(edited, "care", _tp("refund", None))


# --------------------------------------------------------------------------------------------- store

VIEWER = Principal(0, "viewer", "Viewer", Role.AGENT)
EDITOR = Principal(0, "editor", "Editor", Role.CX_OWNER)


def _user(session, username: str, role: Role, name: str) -> Principal:
    user = User(username=username, display_name=name, role=role.value)
    session.add(user)
    session.flush()
    return Principal(user.id, username, name, role)


@pytest.fixture
def people(engine: Engine) -> dict[str, Principal]:
    with transaction(engine) as session:
        return {
            "alice": _user(session, "alice", Role.CX_OWNER, "Alice"),
            "bob": _user(session, "bob", Role.ADMIN, "Bob"),
            "agent": _user(session, "agent", Role.AGENT, "Agent"),
        }


def test_empty_store_falls_back_to_the_default_file(engine: Engine) -> None:
    with transaction(engine) as session:
        journey = jm.load_journey(session)
        assert journey.version == 0 and journey == jm.default_journey()
        with pytest.raises(NotFoundError, match="There is no journey 'other'"):
            jm.load_journey(session, "other")


def test_default_journey_is_seeded_once(engine: Engine) -> None:
    with transaction(engine) as session:
        first = jm.ensure_default_journey(session)
    with transaction(engine) as session:
        again = jm.ensure_default_journey(session)
        versions = session.scalar(select(func.count()).select_from(JourneyVersion))
    assert first.version == again.version == 1 and versions == 1
    assert first.to_dict() == jm.default_journey().to_dict()
    with transaction(engine) as session:
        assert [v.version for v in jm.journey_history(session, VIEWER)] == [1]


def test_edits_are_saved_versioned_and_audited(engine: Engine, people: dict[str, Principal]) -> None:
    alice = people["alice"]
    with transaction(engine) as session:
        v1 = jm.ensure_default_journey(session)
    with transaction(engine) as session:
        v2 = jm.add_stage(session, alice, "default", v1.version, "advocacy", "Advocacy", "推荐", index=6)
    with transaction(engine) as session:
        v3 = jm.add_touchpoint(
            session, alice, "default", v2.version, "advocacy",
            jm.TouchpointModel("referral", "Referral", "推荐好友", "marketing", channels=("app",),
                               rule=parse_rule({"field": "text", "op": "contains_any", "value": ["推荐", "refer"]})),
        )  # fmt: skip
    with transaction(engine) as session:
        v4 = jm.update_touchpoint(
            session, alice, "default", v3.version, "shipping", owner_user_id=alice.user_id, targets={"nps": 30.0}
        )
    with transaction(engine) as session:
        v5 = jm.move_stage(session, alice, "default", v4.version, "advocacy", 0)
    with transaction(engine) as session:
        v6 = jm.rename_stage(session, alice, "default", v5.version, "advocacy", "Word of mouth", "口碑")
    with transaction(engine) as session:
        v7 = jm.move_touchpoint(session, alice, "default", v6.version, "referral", "loyalty", 0)
    with transaction(engine) as session:
        v8 = jm.delete_stage(session, alice, "default", v7.version, "advocacy")
    with transaction(engine) as session:
        v9 = jm.delete_touchpoint(session, alice, "default", v8.version, "campaign")
    assert [v.version for v in (v2, v3, v4, v5, v6, v7, v8, v9)] == list(range(2, 10))
    with transaction(engine) as session:
        stored = jm.load_journey(session)
        history = jm.journey_history(session, alice)
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "journey.edit")).all()
    assert stored == v9 and stored.version == 9
    assert stored.updated_by == alice.user_id and stored.updated_by_name == "Alice"
    assert stored.touchpoint("shipping").owner_user_id == alice.user_id
    assert stored.touchpoint("shipping").targets == {"nps": 30.0}
    assert stored.stage("loyalty").touchpoints[0].key == "referral"
    assert "campaign" not in {tp.key for tp in stored.touchpoints} and "advocacy" not in stored.stage_order()
    assert [h.version for h in history] == list(range(9, 0, -1))
    assert history[0].changed_by_name == "Alice" and history[0].summary == "Deleted touchpoint campaign"
    assert sorted(a.detail["version"] for a in audits) == list(range(2, 10))
    assert all(a.username == "alice" and a.object_id == "default" for a in audits)


def test_a_stale_edit_is_refused_and_the_newer_one_kept(engine: Engine, people: dict[str, Principal]) -> None:
    alice, bob = people["alice"], people["bob"]
    with transaction(engine) as session:
        opened = jm.ensure_default_journey(session).version  # both open version 1
    with transaction(engine) as session:
        jm.update_touchpoint(session, alice, "default", opened, "shipping", owner_department="service")
    with pytest.raises(JourneyConflictError) as caught, transaction(engine) as session:
        jm.update_touchpoint(session, bob, "default", opened, "shipping", owner_department="it")
    conflict = caught.value
    assert isinstance(conflict, ConflictError)
    assert (conflict.expected_version, conflict.current_version) == (1, 2)
    assert [(c.key, c.field, c.old, c.new) for c in conflict.changes] == [
        ("shipping", "owner_department", "delivery", "service")
    ]
    assert [v.changed_by_name for v in conflict.since] == ["Alice"]
    assert "changed by Alice since you opened version 1 (it is now version 2)" in str(conflict)
    assert "owner_department changed from delivery to service" in str(conflict)
    with transaction(engine) as session:
        stored = jm.load_journey(session)
        assert stored.version == 2 and stored.touchpoint("shipping").owner_department == "service"
        assert len(jm.journey_history(session, bob)) == 2
    # reloading and applying again works
    with transaction(engine) as session:
        again = jm.update_touchpoint(session, bob, "default", stored.version, "shipping", owner_department="it")
    assert again.version == 3 and again.touchpoint("shipping").owner_department == "it"


def test_concurrent_edits_of_the_same_version_save_exactly_one(engine: Engine, people: dict[str, Principal]) -> None:
    """Two transactions race on version 1: the second waits for the first's row lock, then gets the conflict."""
    with transaction(engine) as session:
        jm.ensure_default_journey(session)
    first_done, outcome = threading.Event(), {}

    def second() -> None:
        first_done.wait(10)
        try:
            with transaction(engine) as session:
                jm.rename_journey(session, people["bob"], "default", 1, "Bob's", "鲍勃的")
            outcome["second"] = "saved"
        except JourneyConflictError as exc:
            outcome["second"] = exc

    thread = threading.Thread(target=second)
    thread.start()
    with transaction(engine) as session:
        jm.rename_journey(session, people["alice"], "default", 1, "Alice's", "爱丽丝的")
        first_done.set()  # the second edit starts while this one still holds the row
    thread.join(30)
    assert isinstance(outcome["second"], JourneyConflictError)
    with transaction(engine) as session:
        stored = jm.load_journey(session)
    assert (stored.version, stored.name_en) == (2, "Alice's")


def test_restore_makes_a_new_version_equal_to_the_old_snapshot(engine: Engine, people: dict[str, Principal]) -> None:
    alice = people["alice"]
    with transaction(engine) as session:
        original = jm.ensure_default_journey(session)
    with transaction(engine) as session:
        jm.delete_touchpoint(session, alice, "default", 1, "billing")
    with transaction(engine) as session:
        jm.rename_journey(session, alice, "default", 2, "Renamed", "改名")
    with transaction(engine) as session:
        restored = jm.restore_version(session, people["bob"], "default", 1, expected_version=3)
    assert restored.version == 4
    with transaction(engine) as session:
        stored = jm.load_journey(session)
        history = jm.journey_history(session, alice)
        assert jm.journey_at_version(session, alice, "default", 2).touchpoints != stored.touchpoints
    assert stored.to_dict() == original.to_dict()
    assert [h.version for h in history] == [4, 3, 2, 1] and history[0].summary == "Restored version 1"
    with transaction(engine) as session:
        changes = jm.history_changes(session, alice)
    assert [(c.kind, c.object, c.key) for c in changes[2]] == [("removed", "touchpoint", "billing")]
    assert {(c.kind, c.key) for c in changes[4]} >= {("added", "billing")} and 1 not in changes
    with pytest.raises(NothingChangedError), transaction(engine) as session:
        jm.restore_version(session, alice, "default", 1, expected_version=4)
    with pytest.raises(JourneyConflictError), transaction(engine) as session:
        jm.restore_version(session, alice, "default", 2, expected_version=3)


def test_only_editing_roles_may_edit(engine: Engine, people: dict[str, Principal]) -> None:
    with transaction(engine) as session:
        jm.ensure_default_journey(session)
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        jm.rename_journey(session, people["agent"], "default", 1, "x", "x")
    with transaction(engine) as session:
        assert jm.load_journey(session).version == 1
        denied = session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
    assert [(d.action, d.username, d.object_id) for d in denied] == [("journey.edit", "agent", "default")]


def test_invalid_edits_save_nothing(engine: Engine, people: dict[str, Principal]) -> None:
    alice = people["alice"]
    with transaction(engine) as session:
        jm.ensure_default_journey(session)
    with pytest.raises(RuleError), transaction(engine) as session:
        jm.update_touchpoint(session, alice, "default", 1, "shipping", rule={"field": "nope", "op": "eq", "value": 1})
    with pytest.raises(ValidationError, match="not an active user"), transaction(engine) as session:
        jm.update_touchpoint(session, alice, "default", 1, "shipping", owner_user_id=999_999)
    with pytest.raises(jm.JourneyConfigError, match="name.zh: a name is required"), transaction(engine) as session:
        jm.rename_stage(session, alice, "default", 1, "delivery", "Delivery", " ")
    with transaction(engine) as session:
        assert jm.load_journey(session).version == 1


def test_editing_before_seeding_starts_from_the_default_file(engine: Engine, people: dict[str, Principal]) -> None:
    with transaction(engine) as session:
        shown = jm.load_journey(session)  # version 0: the file
        saved = jm.rename_journey(session, people["alice"], "default", shown.version, "Mine", "我的")
    assert saved.version == 2


def _interaction(i: int, **values) -> Interaction:
    return Interaction(
        interaction_id=f"t:{i}", record_id=str(i), source="t", occurred_at=datetime(2026, 3, 1, 8, tzinfo=UTC), **values
    )


def test_match_count_previews_a_rule_on_stored_interactions(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add_all(
            [
                _interaction(1, channel="phone", text="我要退款"),
                _interaction(2, channel="phone", text="REFUND now"),
                _interaction(3, channel="app", text="hello"),
                _interaction(4, channel="web", text=None),
            ]
        )
    rule = {"field": "text", "op": "contains_any", "value": ["退款", "refund"]}
    with transaction(engine) as session:
        assert jm.match_count(session, rule) == 2
        assert jm.match_count(session, parse_rule({"field": "channel", "op": "ne", "value": "phone"})) == 2
        preview = rule_preview(session, EDITOR, rule, start=datetime(2026, 3, 2).date(), end=None)
        assert (preview.matched, preview.total) == (0, 0)
        assert rule_preview(session, EDITOR, rule).matched == 2
        with pytest.raises(PermissionDenied):
            rule_preview(session, VIEWER, rule)  # trying mapping rules is part of editing


def test_page_facing_readers_check_the_principal(engine: Engine, people: dict[str, Principal]) -> None:
    """Deny by default: every reader the journey page calls refuses nobody (None) and checks the action."""
    agent = people["agent"]
    with transaction(engine) as session:
        journey = jm.open_default_journey(session, agent)
        day = date(2026, 3, 1)
        allowed = {
            "history": lambda p: jm.journey_history(session, p),
            "changes": lambda p: jm.history_changes(session, p),
            "at_version": lambda p: jm.journey_at_version(session, p, "default", 1),
            "open": lambda p: jm.open_default_journey(session, p),
            "cards": lambda p: jv.touchpoint_cards(session, p, journey, day, day),
            "series": lambda p: jv.touchpoint_series(session, p, "shipping", ["nps"], day, day),
            "reach": lambda p: jv.stage_customers(session, p, day, day, "UTC"),
            "customers": lambda p: jv.customers_in_period(session, p, day, day, "UTC"),
            "texts": lambda p: jv.complaint_texts(session, p, "shipping", day, day, "UTC"),
            "alerts": lambda p: jv.touchpoint_alerts(session, p, "shipping", true()),
            "names": lambda p: jv.user_names(session, p, [p.user_id if p else None]),
            "stamp": lambda p: jv.data_stamp(session, p),
            "detail_view": lambda p: jv.record_detail_view(session, p, "shipping"),
            "observed": lambda p: paths.observe_stored(session, p, journey.stage_order(), paths.PathFilter()),
        }
        for read in allowed.values():
            read(agent)  # every role may view the map
            with pytest.raises(PermissionDenied):
                read(None)
        editing = {
            "owners": lambda p: jv.assignable_owners(session, p),
            "refused": lambda p: jm.record_refused_edit(session, p, "default", "conflict", "test"),
        }
        for read in editing.values():
            read(people["alice"])
            with pytest.raises(PermissionDenied):
                read(agent)


@pytest.mark.parametrize(
    ("kpi", "value", "target", "status"),
    [
        ("nps", 25.0, 20.0, "good"),  # higher is better
        ("nps", 19.5, 20.0, "watch"),  # within 5 % of the target
        ("nps", 10.0, 20.0, "bad"),
        ("complaint_rate", 25.0, 30.0, "good"),  # lower is better
        ("complaint_rate", 31.0, 30.0, "watch"),
        ("complaint_rate", 45.0, 30.0, "bad"),
        ("nps", None, 20.0, "neutral"),  # no data
        ("nps", 30.0, None, "neutral"),  # no target
    ],
)
def test_health_against_target_follows_the_kpi_direction(kpi: str, value, target, status: str) -> None:
    from cx.journey_view import kpi_status, worst

    assert kpi_status(kpi, value, target) == status
    assert worst(["good", status, "neutral"]) == ("good" if status == "neutral" else status)


def test_complaint_topics_fall_back_to_the_rule_keywords() -> None:
    from cx.journey_view import rule_keyword_topics

    texts = pl.DataFrame({"text": ["我要退款", "REFUND now", "退款还没到账，refund pls", None, "hello"]})
    topics = rule_keyword_topics(texts, MAP.touchpoint("refund"))
    assert topics.rows() == [("refund", 2), ("退款", 2)]
    assert rule_keyword_topics(texts, MAP.touchpoint("hotline")).is_empty()  # no keywords in its rule
