"""The incremental identity entry point gives the same clusters as a full run; its store lookups on a real store."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from bench.identity_quality import read_demo
from cx.models import Identifier, Interaction
from etl.demo import generate
from etl.identity import FrameIdentityStore, SqlIdentityStore, resolve, resolve_incremental
from etl.identity_overrides import Override
from tests.etl.identity_fixtures import clusters, profile_of, records, together


@pytest.fixture(scope="module")
def demo_records(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    folder = tmp_path_factory.mktemp("identity-demo")
    generate(400, 11, folder)
    frame, _ = read_demo(Path(folder))
    return frame


def _apply(base: pl.DataFrame, update: pl.DataFrame) -> pl.DataFrame:
    """The store's assignment after writing an incremental result over a full one."""
    return pl.concat([base.join(update, on="interaction_id", how="anti"), update])


def test_incremental_equals_full_run_on_demo_data(demo_records: pl.DataFrame) -> None:
    ordered = demo_records.sort("occurred_at", "interaction_id")
    cut = int(ordered.height * 0.95)
    old, new = ordered.head(cut), ordered.tail(ordered.height - cut)
    stored = resolve(old.lazy(), previous=None)
    store = FrameIdentityStore(old, stored.assignments)
    result = resolve_incremental(new.lazy(), store=store)
    assert result.stats.records < ordered.height  # only the reached profiles were re-resolved
    combined = _apply(stored.assignments, result.assignments)
    full = resolve(ordered.lazy(), previous=None)
    assert clusters(combined) == clusters(full.assignments)
    # existing profiles keep their ids; touched ones are reported for replacement
    untouched = stored.assignments.join(result.assignments, on="interaction_id", how="anti")
    assert set(untouched.get_column("profile_id")).isdisjoint(set(result.profiles_replaced))
    assert set(result.links.get_column("interaction_id")) == set(result.assignments.get_column("interaction_id"))


def test_incremental_keeps_ids_and_reports_merges() -> None:
    old = records(
        {"iid": "crm:1", "crm_id": "C1", "email": "a@example.com", "day": 1},
        {"iid": "web:1", "device_id": "cookie-a", "day": 2},
        {"iid": "crm:2", "crm_id": "C2", "phone": "13800138002", "day": 3},
    )
    stored = resolve(old.lazy(), previous=None)
    new = records({"iid": "web:2", "email": "A@example.com", "device_id": "cookie-a", "day": 9})
    result = resolve_incremental(new.lazy(), store=FrameIdentityStore(old, stored.assignments))
    assert set(result.assignments.get_column("interaction_id")) == {"crm:1", "web:1", "web:2"}
    assert together(result.assignments, "crm:1", "web:1", "web:2")
    assert profile_of(result.assignments, "web:2") == profile_of(stored.assignments, "crm:1")  # the older id
    assert result.retired_profile_ids == [profile_of(stored.assignments, "web:1")]
    assert result.stats.merged == 1


def test_incremental_respects_overrides() -> None:
    old = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138001", "day": 1},
        {"iid": "hotline:1", "phone": "13800138001", "email": "x@example.com", "day": 2},
    )
    split = Override(id=1, kind="split", interaction_ids=("hotline:1",), target_interaction_ids=("crm:1",))
    stored = resolve(old.lazy(), previous=None, overrides=[split])
    assert not together(stored.assignments, "crm:1", "hotline:1")
    new = records({"iid": "chat:1", "email": "x@example.com", "day": 5})
    result = resolve_incremental(new.lazy(), store=FrameIdentityStore(old, stored.assignments), overrides=[split])
    combined = _apply(stored.assignments, result.assignments)
    assert together(combined, "hotline:1", "chat:1") and not together(combined, "crm:1", "hotline:1")


def _write_store(session: Session, frame: pl.DataFrame) -> None:
    """What the ETL load writes: interactions with profile ids, and the identifiers rows."""
    result = resolve(frame.lazy(), previous=None)
    rows = frame.join(result.assignments, on="interaction_id").with_columns(
        pl.col("interaction_id").str.split(":").list.last().alias("record_id")
    )
    keep = [c.name for c in Interaction.__table__.columns if c.name in rows.columns]
    session.execute(insert(Interaction), rows.select(keep).to_dicts())
    session.execute(insert(Identifier), result.identifiers.to_dicts())
    session.flush()


def test_sql_store_lookups_and_incremental_run(session: Session) -> None:
    old = records(
        {"iid": "crm:1", "crm_id": "C1", "phone": "13800138001", "name": "Emily Chen", "birth_date": None, "day": 1},
        {"iid": "hotline:1", "phone": "138 0013 8001", "day": 2},
        {"iid": "crm:2", "crm_id": "C2", "email": "b@example.com", "postcode": "200001", "name": "王芳", "day": 3},
        {"iid": "crm:3", "crm_id": "C3", "email": "c@example.com", "day": 4},
    )
    _write_store(session, old)
    store = SqlIdentityStore(session)
    keys = pl.DataFrame({"id_type": ["phone", "email"], "value": ["+8613800138001", "b@example.com"]})
    hits = store.profiles_with_values(keys)
    assert hits.height == 2
    pid1 = hits.filter(pl.col("id_type") == "phone").item(0, "profile_id")
    assert store.profiles_of_records(["hotline:1"]) == [pid1]
    assert set(store.records_of_profiles([pid1]).get_column("interaction_id")) == {"crm:1", "hotline:1"}
    assert store.block_members([], ["200001"]).get_column("profile_id").n_unique() == 1
    new = records(
        {"iid": "survey:1", "phone": "+86 138 0013 8001", "day": 9},
        {"iid": "web:5", "name": "王芳", "postcode": "200001", "day": 9},
    )
    result = resolve_incremental(new.lazy(), store=store)
    assert together(result.assignments, "crm:1", "hotline:1", "survey:1")
    assert together(result.assignments, "crm:2", "web:5")
    assert "crm:3" not in set(result.assignments.get_column("interaction_id"))
    assert profile_of(result.assignments, "survey:1") == pid1


def test_fuzzy_reach_keeps_only_block_members_with_a_similar_name() -> None:
    from datetime import date

    from etl.identity import fuzzy_reach
    from etl.identity_config import FuzzyConfig
    from etl.normalise import name_key_expr

    born = date(1990, 5, 1)
    new = pl.DataFrame(
        {"name": ["王芳", "Anna Smith"], "birth_date": [born, None], "postcode": [None, "200002"]}
    ).with_columns(name_key_expr("name").alias("name_key"))
    members = pl.DataFrame(
        {
            "profile_id": ["p-same", "p-typo", "p-other", "p-elsewhere", "p-anne"],
            "name": ["王芳", "王方", "李建国", "王芳", "Anne Smith"],
            "birth_date": [born, born, born, date(1991, 1, 1), None],
            "postcode": [None, None, None, None, "200002"],
        }
    )
    config = FuzzyConfig()
    # 王芳 vs 王方 scores 0.5 (the weak rule's floor); 李建国 shares the birth date only; the other 王芳 is in
    # no block of a new record
    assert fuzzy_reach(new, members, config) == {"p-same", "p-typo", "p-anne"}
    crowded = pl.concat(
        [members]
        + [
            pl.DataFrame({"profile_id": [f"p-{i}"], "name": [f"张{i}"], "birth_date": [born], "postcode": [None]})
            for i in range(config.max_block_size // 2)
        ],
        how="vertical_relaxed",
    )
    reached = fuzzy_reach(new, crowded, config)
    assert {"p-other", "p-0"} <= reached  # a crowded block is taken whole, as a full run sees it
