"""An incremental run gives the same tables as a full run over the same input (etl.incremental, etl.pipeline)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, text

from cx.models import Base
from cx.settings import Settings
from etl import aggregate, demo, incremental, pipeline
from tests.etl.helpers import snapshot, split_demo_by_time

#: The tables an incremental run must leave as a full run does (bookkeeping columns left out).
COMPARED: dict[str, tuple[str, set[str]]] = {
    "interactions": ("interaction_id", {"batch_id"}),
    "profiles": ("profile_id", {"updated_at"}),
    "identifiers": ("profile_id, id_type, value", {"id"}),
    "daily_facts": ("day, channel, stage, touchpoint, department, team, agent_id, segment", {"id"}),
}


def _reset(engine: Engine) -> None:
    """Every table emptied (as a fresh store), keeping the schema."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):  # children before parents
            connection.execute(table.delete())
    engine.dispose()


def _frames(engine: Engine) -> dict[str, pl.DataFrame]:
    out = {}
    for table, rows in snapshot(engine, COMPARED).items():
        with engine.connect() as connection:
            names = list(connection.execute(text(f'SELECT * FROM "{table}" WHERE 1 = 0')).keys())
        columns = [c for c in names if c not in COMPARED[table][1]]
        out[table] = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    engine.dispose()
    return out


def _renamed(frames: dict[str, pl.DataFrame], mapping: dict[str, str]) -> dict[str, pl.DataFrame]:
    """Profile ids replaced through ``mapping`` (and rows re-sorted as the snapshot sorts them)."""
    out = {}
    for table, frame in frames.items():
        if "profile_id" in frame.columns:
            frame = frame.with_columns(pl.col("profile_id").replace(mapping))
        keys = [k.strip() for k in COMPARED[table][0].split(",")]
        out[table] = frame.sort(keys)
    return out


@pytest.fixture
def demo_split(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "demo"
    demo.generate(150, 3, folder)
    later = tmp_path / "later"
    split_demo_by_time(folder, 0.05, later)
    return folder, later


@pytest.mark.slow
def test_incremental_run_gives_the_tables_of_a_full_run(
    engine: Engine, settings: Settings, demo_split: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, later = demo_split
    settings = settings.with_overrides(quarantine_max_share=0.5)
    pipeline.run(engine, settings, [folder])
    for path in later.iterdir():
        shutil.copy(path, folder / path.name)

    def no_rebuild(*_: object, **__: object) -> None:
        raise AssertionError("the stored facts were out of step: the incremental run rebuilt all of them")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_rebuilt_facts", no_rebuild)
        increment = pipeline.run(engine, settings, [folder])
    assert increment.mode == "incremental" and increment.rows_read > 0
    assert increment.profiles_merged + increment.profiles_created > 0  # the batch does change profiles
    after_increment = _frames(engine)

    # the same history, then one full run over every input (stable ids: the same previous assignment)
    _reset(engine)
    for path in later.iterdir():
        (folder / path.name).unlink()
    pipeline.run(engine, settings, [folder])
    for path in later.iterdir():
        shutil.copy(path, folder / path.name)
    rebuild = pipeline.run(engine, settings, [folder], full=True)
    assert rebuild.mode == "full"
    after_rebuild = _frames(engine)
    for table in COMPARED:
        assert_frame_equal(after_increment[table], after_rebuild[table], check_exact=False, rel_tol=1e-9)

    # a fresh store loading everything at once: the same facts, the same tables up to the profile ids
    _reset(engine)
    pipeline.run(engine, settings, [folder])
    fresh = _frames(engine)
    pairs = (
        after_increment["interactions"]
        .select("interaction_id", pl.col("profile_id").alias("ours"))
        .join(fresh["interactions"].select("interaction_id", "profile_id"), on="interaction_id")
    )
    mapping = dict(pairs.select("ours", "profile_id").unique().iter_rows())
    assert len(mapping) == pairs.get_column("profile_id").n_unique()  # the same clusters
    renamed = _renamed(after_increment, mapping)
    for table in COMPARED:
        assert_frame_equal(
            renamed[table], fresh[table].sort(renamed[table].columns[:1]), check_exact=False, rel_tol=1e-9
        )


def _fact_rows(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows).with_columns(pl.col("occurred_at").str.to_datetime(time_zone="UTC"))


def test_facts_by_difference_equal_a_rebuild() -> None:
    """Two customers; the second's records move to the first (a merge): stored − before + after = rebuilt."""
    base = {c: None for c in incremental.FACT_INPUT_COLUMNS}
    rows = [
        {**base, "interaction_id": "a", "occurred_at": "2026-03-01T02:00:00", "profile_id": "p1", "channel": "phone",
         "touchpoint": "repair", "resolved": True},
        {**base, "interaction_id": "b", "occurred_at": "2026-03-03T02:00:00", "profile_id": "p2", "channel": "phone",
         "touchpoint": "repair", "resolved": False, "case_id": "k1"},
        {**base, "interaction_id": "c", "occurred_at": "2026-03-20T02:00:00", "profile_id": "p3", "channel": "chat"},
    ]  # fmt: skip
    before = _fact_rows(rows)
    after = before.with_columns(
        pl.when(pl.col("profile_id") == "p2").then(pl.lit("p1")).otherwise("profile_id").alias("profile_id")
    )
    segments_before = pl.DataFrame({"profile_id": ["p1", "p2", "p3"], "segment": ["gold", "guest", "guest"]})
    segments_after = pl.DataFrame({"profile_id": ["p1", "p3"], "segment": ["gold", "guest"]})

    def facts(frame: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
        lf = frame.lazy().join(segments.lazy(), on="profile_id", how="left")
        return aggregate.daily_facts(lf, timezone="Asia/Shanghai", touchpoint_departments={}).collect()

    stored = facts(before, segments_before).with_row_index("id").with_columns(pl.col("id").cast(pl.Int64))
    affected = incremental.Affected(
        before=before.filter(pl.col("profile_id") != "p3"),
        after=after.filter(pl.col("profile_id") != "p3"),
        profiles=frozenset({"p1", "p2"}),
    )
    as_of = before.get_column("occurred_at").max()
    delta = incremental.facts_delta(
        affected,
        segments_before=segments_before,
        segments_after=segments_after,
        timezone="Asia/Shanghai",
        departments={},
        as_of_before=as_of,
        as_of_after=as_of,
    )
    changed = incremental.apply_delta(stored.join(delta.select(aggregate.KEY), on=list(aggregate.KEY)), delta)
    untouched = stored.join(delta.select(aggregate.KEY), on=list(aggregate.KEY), how="anti").drop("id")
    result = pl.concat([untouched, changed]).sort(list(aggregate.KEY))
    assert_frame_equal(result, facts(after, segments_after).sort(list(aggregate.KEY)))
    assert result.filter(pl.col("day") == date(2026, 3, 3)).get_column("segment").to_list() == ["gold"]


def test_facts_out_of_step_are_detected() -> None:
    delta = pl.DataFrame({k: [""] for k in aggregate.DIMENSIONS}).with_columns(
        pl.lit(date(2026, 1, 1)).alias("day"), *(pl.lit(0).alias(m) for m in aggregate.MEASURES)
    )
    delta = delta.with_columns(pl.lit(-1).alias("interactions"))
    stored = pl.DataFrame(schema={"id": pl.Int64, **{c: delta.schema[c] for c in aggregate.COLUMNS}})
    with pytest.raises(incremental.FactsOutOfStep):
        incremental.apply_delta(stored, delta.select(aggregate.COLUMNS))
