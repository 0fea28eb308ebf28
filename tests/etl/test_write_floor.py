"""bench/sqlite_write_floor.py: the loaded store's tables written again in full (its timings are worth only that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import sqlite_write_floor
from cx.db import make_engine
from cx.settings import load_settings
from etl import demo, pipeline
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.etl.helpers import DATA_TABLES, snapshot

#: Every table the floor writes again: the data tables but the quarantine, and the text tables.
COPIED = {name: spec for name, spec in DATA_TABLES.items() if name != "quarantine"} | {
    "text_insights": ("interaction_id", set()),
    "voc_keywords": ("day, channel, stage, touchpoint, label, term_type, term", {"id"}),
}


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(url)
    try:
        return snapshot(engine, COPIED)
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

    source, copy = _rows(sqlite_url), _rows(f"sqlite:///{out / 'cx.db'}")
    assert all(source[name] for name in COPIED), "the demo load left a table empty"
    for name in COPIED:
        assert copy[name] == source[name], name
