"""The in-memory copy of daily_facts: typed like the table, reused while current, reloaded after an ETL batch."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, insert

from cx import fact_cache
from cx.db import transaction
from cx.models import DailyFact, LoadBatch


def test_copy_is_reused_then_reloaded_after_a_batch(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fact_cache, "RECHECK_S", 0.0)
    with transaction(engine) as session:
        session.execute(insert(DailyFact), [{"day": date(2026, 1, 1), "channel": "phone", "handle_s_sum": 1.5}])
    with transaction(engine) as session:
        first = fact_cache.facts(session)
        assert first.height == 1 and first.schema["day"].is_temporal() and first["handle_s_sum"].item() == 1.5
        assert first.columns == list(fact_cache.COLUMNS)
        assert fact_cache.facts(session) is first  # unchanged store: the same copy
    with transaction(engine) as session:
        session.execute(insert(DailyFact), [{"day": date(2026, 1, 2), "channel": "chat", "interactions": 3}])
        session.add(LoadBatch(status="succeeded"))
    with transaction(engine) as session:
        second = fact_cache.facts(session)
        assert second.height == 2 and second["interactions"].sum() == 3
    fact_cache.forget(engine)
    with transaction(engine) as session:
        assert fact_cache.facts(session) is not second


def test_empty_store_gives_an_empty_typed_frame(engine: Engine) -> None:
    with transaction(engine) as session:
        frame = fact_cache.facts(session)
    assert frame.height == 0 and str(frame.schema["day"]) == "Date"
