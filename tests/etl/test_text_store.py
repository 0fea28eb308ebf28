"""The ETL run's bulk text step stores what etl.text does; a failing text step leaves the load in place."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from cx.settings import Settings
from etl import demo, pipeline, text_store
from etl.text import reanalyse_store
from tests.etl.helpers import count, split_demo_by_time

#: Text tables as compared: (query, sort) without ids and timestamps; FAQ groups by their content.
QUERIES = {
    "text_insights": (
        'SELECT t."interaction_id", t."lang", t."label", t."confidence", t."sentiment", t."terms", t."topics", '
        't."question", t."kind_filled", f."question" AS "faq" FROM "text_insights" AS t '
        'LEFT JOIN "faq_candidates" AS f ON f."id" = t."faq_id" ORDER BY t."interaction_id"'
    ),
    "faq_candidates": (
        'SELECT "lang", "title", "question", "keywords", "example_interaction_id", "texts" FROM "faq_candidates" '
        'ORDER BY "question", "lang"'
    ),
    "voc_keywords": (
        'SELECT "day", "channel", "stage", "touchpoint", "label", "term_type", "term", "texts", '
        'ROUND(CAST("sentiment_sum" AS NUMERIC), 6) FROM "voc_keywords" '
        'ORDER BY "day", "channel", "stage", "touchpoint", "label", "term_type", "term"'
    ),
    "kinds": 'SELECT "interaction_id", "kind" FROM "interactions" ORDER BY "interaction_id"',
}


def _texts(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        out = {name: [tuple(r) for r in connection.execute(text(sql))] for name, sql in QUERIES.items()}
    engine.dispose()
    return out


@pytest.mark.slow
def test_the_runs_text_step_stores_what_reanalysing_stores(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    demo.generate(200, 4, folder)
    later = tmp_path / "later"
    split_demo_by_time(folder, 0.05, later)
    settings = settings.with_overrides(quarantine_max_share=0.5)
    summary = pipeline.run(engine, settings, [folder])
    assert summary.text_status == "succeeded" and count(engine, "text_insights") > 100
    for path in later.iterdir():
        shutil.copy(path, folder / path.name)
    increment = pipeline.run(engine, settings, [folder])
    assert increment.mode == "incremental" and increment.text_status == "succeeded"
    loaded = _texts(engine)
    assert count(engine, "text_insights", "faq_id IS NOT NULL") > 0 and loaded["voc_keywords"]

    reanalyse_store(engine, timezone=settings.timezone, workers=1)  # etl.text, from scratch
    again = _texts(engine)
    assert again["kinds"] == loaded["kinds"]
    assert again["voc_keywords"] == loaded["voc_keywords"]
    strip = [row[:-1] for row in loaded["text_insights"]]  # FAQ groups: regrouped from scratch below
    assert [row[:-1] for row in again["text_insights"]] == strip

    # a full run's text step regroups from scratch: exactly what etl.text.reanalyse_store gives
    pipeline.run(engine, settings, [folder], full=True)
    assert _texts(engine) == again


@pytest.mark.slow
def test_a_full_run_over_part_of_the_store_analyses_the_texts_it_keeps(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """A full run of some files keeps the stored records of the others: their texts are analysed with the batch's
    (read before the load writes), as etl.text.reanalyse_store analyses them."""
    folder = tmp_path / "demo"
    demo.generate(150, 6, folder)
    settings = settings.with_overrides(quarantine_max_share=0.5)
    pipeline.run(engine, settings, [folder])
    chats = folder / "chat_sessions.ndjson"
    summary = pipeline.run(
        engine, settings, [chats], mapping_file=folder / "mappings" / "chat_sessions.toml", full=True
    )
    assert summary.mode == "full" and summary.text_status == "succeeded"
    stored_texts = count(engine, "interactions", "text IS NOT NULL AND TRIM(text) != ''")
    assert count(engine, "text_insights") == stored_texts > 100
    loaded = _texts(engine)
    reanalyse_store(engine, timezone=settings.timezone, workers=1)
    assert _texts(engine) == loaded


def _broken(*_: object, **__: object) -> None:
    raise RuntimeError("tokenizer exploded")


def test_a_failing_text_analysis_keeps_a_full_load_and_says_how_to_repair(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "demo"
    demo.generate(40, 2, folder)
    monkeypatch.setattr(text_store, "plan_full", _broken)
    summary = pipeline.run(engine, settings.with_overrides(quarantine_max_share=0.5), [folder])
    assert summary.status == "succeeded" and summary.text_status == "failed"
    assert "python -m etl.text --all" in summary.text_message and "tokenizer exploded" in summary.text_message
    assert count(engine, "interactions") == summary.rows_loaded - summary.duplicates
    assert count(engine, "text_insights") == 0
    with engine.connect() as connection:
        status, message = connection.execute(text('SELECT "status", "message" FROM "load_batches"')).one()
    engine.dispose()
    assert status == "succeeded" and "python -m etl.text --all" in message


def _writes_then_fails(real: Any) -> Any:
    def broken(writer: Any, *args: Any, **kwargs: Any) -> Any:
        real(writer, *args, **kwargs)  # every text table written in the load's transaction ...
        raise RuntimeError("tokenizer exploded")  # ... and rolled back to the savepoint

    return broken


@pytest.mark.parametrize("failing", ["analyse", "store_batch"])
def test_a_failing_text_step_keeps_an_incremental_load_and_says_how_to_repair(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    folder = tmp_path / "demo"
    demo.generate(60, 3, folder)
    later = tmp_path / "later"
    split_demo_by_time(folder, 0.1, later)
    settings = settings.with_overrides(quarantine_max_share=0.5)
    pipeline.run(engine, settings, [folder])
    insights, interactions = count(engine, "text_insights"), count(engine, "interactions")
    earlier = _texts(engine)
    for path in later.iterdir():
        shutil.copy(path, folder / path.name)
    broken = _broken if failing == "analyse" else _writes_then_fails(text_store.store_batch)
    monkeypatch.setattr(text_store, failing, broken)
    summary = pipeline.run(engine, settings, [folder])
    assert summary.mode == "incremental" and summary.status == "succeeded" and summary.text_status == "failed"
    assert "python -m etl.text --since " in summary.text_message and "tokenizer exploded" in summary.text_message
    assert count(engine, "interactions") > interactions  # the load committed
    assert count(engine, "text_insights") == insights  # the earlier analysis stays, the batch's is rolled back
    after = _texts(engine)
    for table in ("text_insights", "faq_candidates", "voc_keywords"):
        assert after[table] == earlier[table], table
    with engine.connect() as connection:
        message, stats = connection.execute(
            text('SELECT "message", CAST("stats" AS TEXT) FROM "load_batches" WHERE "id" = :id'),
            {"id": summary.batch_id},
        ).one()
    engine.dispose()
    assert "python -m etl.text --since " in message and '"failed"' in stats
