"""The pipeline end to end on a real store (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from cx.db import transaction
from cx.errors import QuarantineLimitError, SchemaDriftError
from cx.models import Interaction, LoadBatch, Profile, SourceFile
from cx.settings import Settings
from etl import demo, pipeline
from tests.etl.conftest import GOOD_ROWS, calls_csv
from tests.etl.helpers import count, snapshot, split_demo_by_time, touch_later

BAD_ROWS = [
    ",2026/03/05 12:00:00,13800138000,,,A1,1,1,1,N,Y,,,,,,,",
    "C8,2026/03/05 12:00:00,13800138000,,,A1,1,1,1,N,Y,,,11,,,,",
]


def test_rows_in_equal_rows_loaded_plus_quarantined(engine: Engine, settings: Settings, export_dir: Path) -> None:
    settings = settings.with_overrides(quarantine_max_share=0.5)
    (export_dir / "calls_1.csv").write_text(calls_csv(GOOD_ROWS + BAD_ROWS), "utf-8")
    summary = pipeline.run(engine, settings, [export_dir])
    assert (summary.rows_read, summary.rows_loaded, summary.rows_quarantined) == (5, 3, 2)
    assert summary.status == "succeeded" and summary.profiles_total == count(engine, "profiles")
    assert count(engine, "interactions") == 3 and count(engine, "quarantine") == 2
    with transaction(engine) as session:
        batch = session.get(LoadBatch, summary.batch_id)
        assert batch is not None and batch.status == "succeeded"
        assert batch.rows_read == batch.rows_loaded + batch.rows_quarantined
        assert batch.stats is not None and "timings" in batch.stats and batch.stats["sources"]["hotline"]["read"] == 5
        stored = session.scalars(select(Interaction).order_by(Interaction.interaction_id)).all()
        assert [i.phone for i in stored] == ["+8613800138000", "+8613900139000", "+8613800138000"]
        assert stored[0].profile_id is not None and stored[0].profile_id == stored[2].profile_id
        assert stored[0].batch_id == summary.batch_id and stored[0].abandoned is False


def test_same_input_twice_gives_identical_tables(engine: Engine, settings: Settings, export_dir: Path) -> None:
    first = pipeline.run(engine, settings, [export_dir])
    before = snapshot(engine)
    again = pipeline.run(engine, settings, [export_dir])
    assert again.files_loaded == 0 and again.files_unchanged == 1 and again.rows_read == 0
    assert snapshot(engine) == before
    forced = pipeline.run(engine, settings, [export_dir], full=True)
    assert forced.files_loaded == 1 and forced.rows_loaded == first.rows_loaded
    assert snapshot(engine) == before
    assert count(engine, "load_batches", "status = 'succeeded'") == 3


def test_the_same_record_in_two_files_becomes_one_row_newest_file_wins(
    engine: Engine, settings: Settings, export_dir: Path
) -> None:
    newer = export_dir / "calls_2.csv"
    newer.write_text(calls_csv([GOOD_ROWS[0].replace(",9,5,6,", ",3,2,2,")]), "utf-8")
    touch_later(newer)
    summary = pipeline.run(engine, settings, [export_dir])
    assert summary.rows_read == 4 and summary.duplicates == 1 and summary.rows_loaded == 4
    assert count(engine, "interactions") == 3
    with transaction(engine) as session:
        c1 = session.get(Interaction, "hotline:C1")
        assert c1 is not None and (c1.nps, c1.csat) == (3, 2)
    # the older file changes later: loaded again, its version is now the newest
    older = export_dir / "calls_1.csv"
    older.write_text(calls_csv(GOOD_ROWS[:1]), "utf-8")
    touch_later(older, 20)
    pipeline.run(engine, settings, [export_dir])
    with transaction(engine) as session:
        c1 = session.get(Interaction, "hotline:C1")
        assert c1 is not None and c1.nps == 9
    assert count(engine, "interactions") == 3


def test_a_missing_column_fails_the_job_naming_it_and_keeps_the_store(
    engine: Engine, settings: Settings, export_dir: Path
) -> None:
    pipeline.run(engine, settings, [export_dir])
    before = snapshot(engine)
    drifted = export_dir / "calls_2.csv"
    header, *rows = calls_csv(GOOD_ROWS).splitlines()
    keep = [i for i, c in enumerate(header.split(",")) if c not in ("caller", "call_id")]
    drifted.write_text(
        "\n".join(",".join(line.split(",")[i] for i in keep) for line in [header, *rows]) + "\n", "utf-8"
    )
    with pytest.raises(SchemaDriftError) as caught:
        pipeline.run(engine, settings, [export_dir])
    message = str(caught.value)
    assert "calls_2.csv" in message and "missing columns call_id, caller" in message
    assert snapshot(engine) == before
    with transaction(engine) as session:
        last = session.scalars(select(LoadBatch).order_by(LoadBatch.id.desc())).first()
        assert last is not None and last.status == "failed" and "call_id" in (last.message or "")


def test_a_changed_column_type_fails_the_job(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "app.toml").write_text(
        'source = "app"\nchannel = "app"\nfiles = ["events*.parquet"]\n[columns]\n'
        'id = "record_id"\nt = "occurred_at"\nscore = "nps"\n',
        "utf-8",
    )
    from datetime import datetime

    pl.DataFrame({"id": ["a"], "t": [datetime(2026, 1, 1)], "score": [9]}).write_parquet(folder / "events_1.parquet")
    pipeline.run(engine, settings, [folder])
    pl.DataFrame({"id": ["b"], "t": ["2026-01-02 10:00"], "score": [8]}).write_parquet(folder / "events_2.parquet")
    with pytest.raises(
        SchemaDriftError, match=r"changed types: t was Datetime\(time_unit='us', time_zone=None\), now String"
    ):
        pipeline.run(engine, settings, [folder])
    assert count(engine, "interactions") == 1


def test_too_many_bad_rows_fail_the_job_but_keep_the_reasons(
    engine: Engine, settings: Settings, export_dir: Path
) -> None:
    (export_dir / "calls_1.csv").write_text(calls_csv(GOOD_ROWS[:1] + BAD_ROWS), "utf-8")
    with pytest.raises(QuarantineLimitError, match=r"66\.7% of the rows failed validation, above the limit of 5\.0%"):
        pipeline.run(engine, settings, [export_dir])
    assert count(engine, "interactions") == 0 and count(engine, "quarantine") == 2
    assert count(engine, "load_batches", "status = 'failed'") == 1


def test_canonical_file_loads_without_a_mapping(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "kiosk.csv"
    path.write_text(
        "record_id,occurred_at,channel,phone,kind,note\n"
        "k1,2026-03-05 10:00:00,store,13800138000,visit,hello\n"
        "k2,2026-03-05 11:00:00,store,,visit,\n",
        "utf-8",
    )
    summary = pipeline.run(engine, settings, [path])
    assert summary.rows_loaded == 2
    with transaction(engine) as session:
        k1 = session.get(Interaction, "kiosk:k1")
        assert k1 is not None and k1.source == "kiosk" and k1.extra == '{"note":"hello"}'


def test_incremental_run_takes_only_new_files_and_keeps_profile_ids(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    demo.generate(150, 3, folder)
    later = tmp_path / "later"
    moved = split_demo_by_time(folder, 0.05, later)
    base = pipeline.run(engine, settings, [folder])
    assert base.mode == "full"
    with transaction(engine) as session:
        before = dict(session.execute(select(Interaction.interaction_id, Interaction.profile_id)).all())
        profiles_before = set(session.scalars(select(Profile.profile_id)))
    for path in later.iterdir():
        shutil.copy(path, folder / path.name)
    increment = pipeline.run(engine, settings, [folder])
    assert increment.mode == "incremental"
    assert increment.files_unchanged == 9 and increment.files_loaded == 9
    assert increment.rows_read == moved
    with transaction(engine) as session:
        after = dict(session.execute(select(Interaction.interaction_id, Interaction.profile_id)).all())
        profiles_after = set(session.scalars(select(Profile.profile_id)))
        files = session.scalars(select(SourceFile)).all()
    assert len(after) == len(before) + increment.rows_loaded - increment.duplicates
    moved = [i for i, p in before.items() if after[i] != p]
    assert len(moved) <= 0.2 * len(before)  # ids survive; merges move records to the older profile
    assert not moved or increment.profiles_merged > 0
    assert {after[i] for i in before} <= profiles_before  # no old record gets a brand-new id
    new_records = [i for i in after if i not in before]
    attached = sum(after[i] in profiles_before for i in new_records)
    assert attached >= 0.5 * len(new_records)  # most new contacts belong to known customers
    assert profiles_after >= {after[i] for i in before}
    assert len(files) == 18 and all(f.watermark is not None for f in files if f.rows)


def test_load_demo_reports_progress_and_loads_agents(engine: Engine, settings: Settings) -> None:
    seen: list[tuple[float, str]] = []
    summary = pipeline.load_demo(engine, settings, customers=60, seed=5, progress=lambda f, m: seen.append((f, m)))
    assert summary.status == "succeeded" and summary.rows_loaded > 200
    assert summary.profiles_total == count(engine, "profiles") > 40
    assert summary.rows_read == summary.rows_loaded + summary.rows_quarantined + summary.rows_suppressed
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert count(engine, "agents") > 10 and count(engine, "journeys") == 1
    assert count(engine, "daily_facts") > 0
    assert count(engine, "interactions", "touchpoint IS NOT NULL") > 0.6 * summary.rows_loaded
