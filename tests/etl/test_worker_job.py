"""The worker's scheduled ETL job (etl.pipeline.run_incremental): loads what changed in CX_SOURCES, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cx.errors import ConfigError
from cx.settings import Settings
from etl import pipeline
from tests.etl.conftest import GOOD_ROWS, calls_csv
from tests.etl.helpers import count, touch_later


def test_without_configured_sources_the_job_does_nothing(engine: Engine, settings: Settings) -> None:
    assert pipeline.run_incremental(engine, settings.with_overrides(sources=None)) is None
    assert count(engine, "load_batches") == 0


def test_the_job_loads_new_input_once_and_then_waits_for_a_change(
    engine: Engine, settings: Settings, export_dir: Path
) -> None:
    configured = settings.with_overrides(sources=str(export_dir))
    first = pipeline.run_incremental(engine, configured)
    assert first is not None and first.status == "succeeded" and first.rows_loaded == len(GOOD_ROWS)
    assert count(engine, "interactions") == len(GOOD_ROWS)

    assert pipeline.run_incremental(engine, configured) is None  # unchanged: no new batch
    assert count(engine, "load_batches") == 1

    newer = "C9,2026/03/07 10:00:00,13700137000,赵敏,,A2,3,40,0,N,Y,物流,咨询,,5,,K9,"
    (export_dir / "calls_2.csv").write_text(calls_csv([newer]), encoding="utf-8")
    touch_later(export_dir / "calls_2.csv")
    second = pipeline.run_incremental(engine, configured)
    assert second is not None and second.rows_loaded == 1
    assert count(engine, "interactions") == len(GOOD_ROWS) + 1
    assert count(engine, "load_batches", "\"trigger\" = 'worker'") == 2


def test_a_missing_source_path_is_named(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does-not-exist"):
        pipeline.run_incremental(engine, settings.with_overrides(sources=str(tmp_path / "does-not-exist")))
