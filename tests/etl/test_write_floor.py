"""bench/sqlite_write_floor.py: the loaded store's tables written again in full (its timings are worth only that)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from bench import sqlite_write_floor
from cx.db import make_engine
from cx.settings import load_settings
from etl import demo, pipeline
from etl.load import read_frame
from tests.conftest import TEST_ADMIN_PASSWORD


def _table(url: str, name: str, order: str, columns: str = "*") -> pl.DataFrame:
    engine = make_engine(url)
    try:
        return read_frame(engine, f'SELECT {columns} FROM "{name}" ORDER BY {order}')
    finally:
        engine.dispose()


def test_the_floor_writes_every_table_of_a_loaded_store_again(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exports = tmp_path / "exports"
    demo.generate(300, 7, exports)
    settings = load_settings(
        environ={"CX_DATABASE_URL": sqlite_url, "CX_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD, "CX_EMBEDDED_WORKER": "0"},
        secrets_path=tmp_path / "no-secrets.toml",
    )
    engine = make_engine(sqlite_url)
    try:
        summary = pipeline.run(engine, settings, [exports])
    finally:
        engine.dispose()
    assert summary.status == "succeeded" and summary.text_status == "succeeded"

    out = tmp_path / "floor"
    assert sqlite_write_floor.main(["--db", sqlite_url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "load transaction" in printed and "every table written again in full" in printed

    copy = f"sqlite:///{out / 'cx.db'}"
    for name, order in (("interactions", "interaction_id"), ("identity_links", "interaction_id")):
        source = _table(sqlite_url, name, order)
        assert source.height > 0
        assert _table(copy, name, order).equals(source), name
    keyword_columns = "day, channel, stage, touchpoint, label, term_type, term, texts, sentiment_sum"
    keywords = _table(sqlite_url, "voc_keywords", keyword_columns, keyword_columns)
    assert keywords.height > 0
    assert _table(copy, "voc_keywords", keyword_columns, keyword_columns).equals(keywords)
