"""Daily facts from hand-made interactions: every measure against hand-computed values, incremental runs, storage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, func, select

from cx.db import transaction
from cx.models import DailyFact
from etl.aggregate import COLUMNS, daily_facts, lookback_days, write_daily_facts

TZ = "Asia/Shanghai"
DEPARTMENTS = {"repair": "service", "billing": "it", "shipping": "delivery", "feedback_survey": "executive"}
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
_counter = iter(range(1_000_000))


def row(at: datetime, **fields: object) -> dict[str, object]:
    n = next(_counter)
    base = {
        "interaction_id": f"test:{n:06d}",
        "record_id": f"{n:06d}",
        "source": "test",
        "channel": "phone",
        "occurred_at": at,
        "profile_id": None,
        "stage": "after_sale",
        "touchpoint": "repair",
        "direction": "inbound",
        "kind": "inquiry",
        "agent_id": "a1",
        "team": "hotline_a",
        "case_id": None,
        "queue_wait_s": None,
        "first_response_s": None,
        "handle_s": None,
        "abandoned": None,
        "resolved": None,
        "nps": None,
        "csat": None,
        "ces": None,
    }
    return {**base, **fields}


def frame(rows: list[dict[str, object]]) -> pl.LazyFrame:
    return pl.DataFrame(
        rows,
        schema_overrides={
            "occurred_at": pl.Datetime("us", "UTC"),
            "queue_wait_s": pl.Float64,
            "first_response_s": pl.Float64,
            "handle_s": pl.Float64,
            "abandoned": pl.Boolean,
            "resolved": pl.Boolean,
            "nps": pl.Int8,
            "csat": pl.Int8,
            "ces": pl.Int8,
            "case_id": pl.String,
            "profile_id": pl.String,
        },
    ).lazy()


def facts(rows: list[dict[str, object]], **params: object) -> pl.DataFrame:
    return daily_facts(frame(rows), timezone=TZ, touchpoint_departments=DEPARTMENTS, **params).collect()


def total(result: pl.DataFrame, column: str, **where: object) -> float:
    for name, value in where.items():
        result = result.filter(pl.col(name) == value)
    return result[column].sum()


def test_columns_match_the_table_and_days_are_local() -> None:
    late = T0.replace(hour=17, minute=30)  # 01:30 the next morning in Shanghai
    result = facts([row(T0), row(late, touchpoint="billing"), row(T0, touchpoint="unknown_tp")])
    assert tuple(result.columns) == COLUMNS == tuple(c.name for c in DailyFact.__table__.columns if c.name != "id")
    assert total(result, "interactions", day=date(2026, 1, 5)) == 2
    assert total(result, "interactions", day=date(2026, 1, 6), department="it") == 1
    assert total(result, "interactions", touchpoint="unknown_tp", department="") == 1  # unknown owner: ''
    assert total(result, "after_hours_contacts") == 1
    assert result["segment"].to_list() == ["", "", ""]
    assert result.filter(pl.col("team") == "")["interactions"].sum() == 0


def test_contacts_surveys_and_scores() -> None:
    rows = [
        row(T0, kind="complaint", channel="chat"),
        row(T0, kind="visit", channel="web"),
        row(T0, direction="outbound"),
        row(T0, channel="survey", kind="survey", touchpoint="feedback_survey", nps=10, csat=2, ces=6),
        row(T0, channel="survey", kind="survey", touchpoint="feedback_survey", nps=6, csat=4, ces=3),
        row(T0, channel="survey", kind="survey", touchpoint="feedback_survey", nps=8, csat=None, ces=None),
    ]
    result = facts(rows)
    assert total(result, "interactions") == 6
    assert total(result, "inbound_contacts") == 1  # visits, outbound calls and survey answers are not contacts
    assert total(result, "digital_contacts") == 1 and total(result, "complaints") == 1
    nps = (total(result, "nps_responses"), total(result, "nps_promoters"), total(result, "nps_detractors"))
    assert nps == (3, 1, 1)
    assert (total(result, "csat_responses"), total(result, "csat_satisfied"), total(result, "csat_sum")) == (2, 1, 6)
    assert (total(result, "ces_responses"), total(result, "ces_agree"), total(result, "ces_sum")) == (2, 1, 9)
    assert total(result, "nps_responses", department="executive") == 3


def test_queue_handle_and_response_times() -> None:
    rows = [
        row(T0, queue_wait_s=10.0, abandoned=False, handle_s=300.0),
        row(T0, queue_wait_s=30.0, abandoned=False, handle_s=None),  # handle time missing: not in AHT
        row(T0, queue_wait_s=3.0, abandoned=True),  # short abandon
        row(T0, queue_wait_s=40.0, abandoned=True),
        row(T0, queue_wait_s=None, abandoned=False, handle_s=200.0),  # answered, wait unknown
        row(T0, direction="outbound", queue_wait_s=0.0, abandoned=False, handle_s=100.0),  # not offered
        row(T0, channel="chat", first_response_s=45.0),
        row(T0, channel="email", first_response_s=3600.0),
    ]
    result = facts(rows)
    assert total(result, "offered") == 5 and total(result, "answered") == 3
    assert total(result, "abandoned") == 2 and total(result, "abandoned_short") == 1
    assert total(result, "answered_waits") == 2 and total(result, "answered_wait_s_sum") == 40.0
    assert total(result, "answered_within_sl") == 1
    assert total(result, "handled") == 3 and total(result, "handle_s_sum") == 600.0
    assert total(result, "first_responses") == 2 and total(result, "first_response_s_sum") == 3645.0


def test_first_contact_resolution_and_repeats() -> None:
    day = timedelta(days=1)
    rows = [
        # case c1: resolved on first contact, but the customer calls again on the case 3 days later -> not FCR
        row(T0, profile_id="p1", case_id="c1", resolved=True),
        row(T0 + 3 * day, profile_id="p1", case_id="c1", resolved=True),
        # case c2: resolved, nothing follows -> FCR
        row(T0, profile_id="p2", case_id="c2", resolved=True),
        # case c3: resolved, but the same customer opens a new case on the same touchpoint after 2 days -> not FCR
        row(T0, profile_id="p3", case_id="c3", resolved=True),
        row(T0 + 2 * day, profile_id="p3", case_id="c4", resolved=False),
        # no case id: same customer + touchpoint is the reason; 8 days later is a new reason case
        row(T0, profile_id="p5", touchpoint="billing", channel="chat", resolved=False),
        row(T0 + 8 * day, profile_id="p5", touchpoint="billing", channel="chat", resolved=True),
        # no case id, no customer: its own case
        row(T0, resolved=True),
        # an abandoned call is not a contact that opens or repeats a case
        row(T0 + day, profile_id="p2", case_id="c2", abandoned=True, queue_wait_s=50.0),
        # resolution unknown: no FCR case
        row(T0, profile_id="p6", touchpoint="shipping"),
    ]
    result = facts(rows)
    # cases: c1, c2, c3, c4, p5 twice, the anonymous one = 7 (p6 has no resolution flag)
    assert total(result, "fcr_cases") == 7
    # c2, the second p5 reason case and the anonymous contact
    assert total(result, "fcr_resolved") == 3
    # c1's second call and c4 (same customer + touchpoint as c3 within 7 days)
    assert total(result, "repeat_contacts") == 2
    assert total(result, "fcr_cases", department="it") == 2 and total(result, "fcr_resolved", department="it") == 1


def test_backlog_and_sla() -> None:
    hours = timedelta(hours=1)
    rows = [
        row(T0, case_id="c1", resolved=False),
        row(T0 + 73 * hours, case_id="c1", resolved=True, touchpoint="billing"),  # resolved after the 72 h SLA
        row(T0, case_id="c2", resolved=True),  # resolved at once
        row(T0 + 2 * hours, case_id="c3", resolved=False),  # still open, deadline passed by as_of
        row(T0 + 200 * hours, case_id="c4", resolved=False),  # still open, deadline not yet passed
        row(T0 + 200 * hours, touchpoint="shipping"),  # no case: not in backlog
    ]
    result = facts(rows)
    assert total(result, "cases_opened") == 4
    assert total(result, "cases_resolved") == 2
    # c1 resolved on its resolution day, but counted with its opening dimensions (repair / service)
    assert total(result, "cases_resolved", day=date(2026, 1, 8), touchpoint="repair") == 1
    assert total(result, "cases_resolved", touchpoint="billing") == 0
    assert total(result, "sla_measured") == 3 and total(result, "sla_breached") == 2  # c1 late, c3 overdue
    later = facts(rows, as_of=T0 + 400 * hours)
    assert total(later, "sla_measured") == 4 and total(later, "sla_breached") == 3


def test_customers_gained_and_lost_for_retention() -> None:
    day = timedelta(days=1)
    rows = [
        row(T0, profile_id="p1"),
        row(T0 + 4 * day, profile_id="p1", channel="chat"),  # same spell
        row(T0 + 30 * day, profile_id="p1"),  # lapsed after day 14, back on day 30: gained again
        row(T0 + 2 * day, profile_id="p2", direction="outbound"),  # outbound contact: not customer activity
        row(T0 + 35 * day, profile_id="p3"),
        row(T0 + 36 * day),  # no profile: no customer
    ]
    result = facts(rows, active_window_days=10)
    assert total(result, "customers_gained") == 3
    # p1's first spell ran out on day 4 + 10 (as_of = the last contact, day 36): lost, with the spell's first channel
    assert total(result, "customers_lost") == 1
    assert total(result, "customers_lost", day=date(2026, 1, 19), channel="phone") == 1
    assert total(result, "customers", day=date(2026, 1, 5)) == 1


def test_segment_column_is_a_dimension() -> None:
    rows = [row(T0, profile_id="p1", segment="vip"), row(T0, profile_id="p2", segment=None)]
    result = facts(rows)
    assert sorted(result["segment"].to_list()) == ["", "vip"]


def _random_interactions(n: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        at = start + timedelta(minutes=int(rng.integers(0, 60 * 24 * 400)))
        rows.append(
            row(
                at,
                profile_id=f"p{rng.integers(0, 40)}",
                touchpoint=str(rng.choice(["repair", "billing", "shipping"])),
                case_id=f"c{i // 3}" if rng.random() < 0.5 else None,
                resolved=bool(rng.random() < 0.7),
                queue_wait_s=float(rng.integers(0, 60)),
                abandoned=bool(rng.random() < 0.1),
            )
        )
    rows.sort(key=lambda r: r["occurred_at"])
    # keep explicit cases short (a few days), as real tickets are
    for r in rows:
        if r["case_id"] is not None:
            r["case_id"] = f"{r['case_id']}-{r['occurred_at']:%Y%m}"
    return rows


def test_incremental_refresh_matches_a_full_rebuild() -> None:
    rows = _random_interactions(600, seed=3)
    full = facts(rows)
    since = date(2025, 11, 1)
    first_needed = datetime.combine(since - timedelta(days=lookback_days()), datetime.min.time(), UTC)
    partial = facts([r for r in rows if r["occurred_at"] >= first_needed], as_of=max(r["occurred_at"] for r in rows))
    by_day = [pl.col(c).sum() for c in COLUMNS if c not in ("day", *full.columns[1:8], "customers")]
    expected = full.filter(pl.col("day") >= since).group_by("day").agg(by_day).sort("day")
    got = partial.filter(pl.col("day") >= since).group_by("day").agg(by_day).sort("day")
    assert_frame_equal(got, expected)


def test_business_hours_are_validated() -> None:
    with pytest.raises(ValueError, match="business_hours"):
        daily_facts(frame([row(T0)]), timezone=TZ, touchpoint_departments={}, business_hours=(20, 8))


def test_write_and_replace_stored_facts(engine: Engine) -> None:
    rows = [row(T0 + timedelta(days=d), profile_id=f"p{d}") for d in range(5)]
    result = facts(rows)
    with transaction(engine) as session:
        assert write_daily_facts(session.connection(), result) == 5
    with transaction(engine) as session:
        changed = facts(rows + [row(T0 + timedelta(days=4, hours=1), channel="chat")])
        assert write_daily_facts(session.connection(), changed, since=date(2026, 1, 9)) == 2
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(DailyFact)) == 6
        assert session.scalar(select(func.sum(DailyFact.interactions))) == 6
