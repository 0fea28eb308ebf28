"""Manual identity overrides: split and join applied by etl.identity, surviving re-runs; loaded from the store."""

from __future__ import annotations

import json

import polars as pl
import pytest
from sqlalchemy.orm import Session

from cx.errors import ValidationError
from cx.models import IdentityOverride
from cx.types import utcnow
from etl.identity import resolve
from etl.identity_overrides import Override, load_overrides
from tests.etl.identity_fixtures import clusters, profile_of, records, together

ROWS = (
    {"iid": "crm:1", "crm_id": "C1", "phone": "13800138001", "email": "a@example.com", "day": 1},
    {"iid": "hotline:1", "phone": "13800138001", "day": 5},
    {"iid": "hotline:2", "phone": "13800138001", "name": "Someone Else", "day": 6},
    {"iid": "web:1", "email": "a@example.com", "device_id": "cookie-a", "day": 7},
    {"iid": "app:9", "device_id": "phone-z", "day": 8},
)
SPLIT = Override(
    id=1, kind="split", interaction_ids=("hotline:2",), target_interaction_ids=("crm:1", "hotline:1", "web:1")
)
JOIN = Override(id=2, kind="join", interaction_ids=("crm:1", "app:9"))


def test_without_overrides() -> None:
    result = resolve(records(*ROWS).lazy(), previous=None)
    assert together(result.assignments, "crm:1", "hotline:1", "hotline:2", "web:1")
    assert not together(result.assignments, "crm:1", "app:9")


def test_split_moves_records_out_and_survives_a_rerun() -> None:
    frame = records(*ROWS)
    before = resolve(frame.lazy(), previous=None)
    first = resolve(frame.lazy(), previous=before.assignments, overrides=[SPLIT])
    a = first.assignments
    assert together(a, "crm:1", "hotline:1", "web:1") and not together(a, "crm:1", "hotline:2")
    assert profile_of(a, "crm:1") == profile_of(before.assignments, "crm:1")  # the larger part keeps the id
    link = first.links.filter(pl.col("interaction_id") == "hotline:2").row(0, named=True)
    assert link["rule"] == "single_record"
    # a later run with new records: the split holds, new records join the side their identifiers reach
    grown = records(
        *ROWS,
        {"iid": "chat:1", "email": "a@example.com", "day": 9},
        {"iid": "hotline:3", "phone": "13800138001", "day": 10},
    )
    second = resolve(grown.lazy(), previous=first.assignments, overrides=[SPLIT])
    b = second.assignments
    assert not together(b, "crm:1", "hotline:2")
    assert together(b, "crm:1", "hotline:1", "web:1", "chat:1")
    assert profile_of(b, "hotline:2") == profile_of(a, "hotline:2")
    assert profile_of(b, "crm:1") == profile_of(a, "crm:1")


def test_split_out_side_stays_together() -> None:
    frame = records(*ROWS)
    split = Override(
        id=5, kind="split", interaction_ids=("hotline:1", "hotline:2"), target_interaction_ids=("crm:1", "web:1")
    )
    result = resolve(frame.lazy(), previous=None, overrides=[split])
    assert together(result.assignments, "hotline:1", "hotline:2")
    assert not together(result.assignments, "hotline:1", "crm:1")
    rule = result.links.filter(pl.col("interaction_id") == "hotline:2").row(0, named=True)
    assert rule["rule"] == "override_split" and json.loads(rule["detail"])["override_id"] == 5


def test_join_links_two_profiles_and_survives_a_rerun() -> None:
    frame = records(*ROWS)
    first = resolve(frame.lazy(), previous=None, overrides=[JOIN])
    assert together(first.assignments, "crm:1", "app:9", "web:1")
    link = first.links.filter(pl.col("interaction_id") == "app:9").row(0, named=True)
    assert link["rule"] == "override_join" and link["matched_interaction_id"] == "crm:1"
    assert json.loads(link["detail"])["override_id"] == 2
    second = resolve(frame.lazy(), previous=first.assignments, overrides=[JOIN])
    assert clusters(second.assignments) == clusters(first.assignments)
    assert profile_of(second.assignments, "app:9") == profile_of(first.assignments, "crm:1")
    # reverted (no longer passed): the records are resolved freely again
    third = resolve(frame.lazy(), previous=second.assignments, overrides=[])
    assert not together(third.assignments, "crm:1", "app:9")
    assert profile_of(third.assignments, "crm:1") == profile_of(first.assignments, "crm:1")


def test_overrides_naming_unknown_records_are_skipped() -> None:
    ghost = Override(id=3, kind="join", interaction_ids=("crm:1", "gone:1"))
    result = resolve(records(*ROWS).lazy(), previous=None, overrides=[ghost, SPLIT])
    assert not together(result.assignments, "crm:1", "hotline:2")


def test_override_validation() -> None:
    with pytest.raises(ValidationError, match="kind must be 'split' or 'join'"):
        Override(id=1, kind="merge", interaction_ids=("a",))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="names no records"):
        Override(id=1, kind="join", interaction_ids=())


def test_load_overrides_skips_reverted_and_keeps_order(session: Session) -> None:
    session.add_all(
        [
            IdentityOverride(kind="join", interaction_ids=["crm:1", "app:9"]),
            IdentityOverride(kind="split", interaction_ids=["hotline:2"], target_interaction_ids=["crm:1"]),
            IdentityOverride(kind="join", interaction_ids=["x:1", "y:1"], reverted_at=utcnow()),
        ]
    )
    session.flush()
    loaded = load_overrides(session)
    assert [(o.kind, o.interaction_ids, o.target_interaction_ids) for o in loaded] == [
        ("join", ("crm:1", "app:9"), ()),
        ("split", ("hotline:2",), ("crm:1",)),
    ]
    result = resolve(records(*ROWS).lazy(), previous=None, overrides=loaded)
    assert together(result.assignments, "crm:1", "app:9") and not together(result.assignments, "crm:1", "hotline:2")
