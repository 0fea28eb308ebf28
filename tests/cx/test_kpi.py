"""KPI formulas: hand-computed fixtures with edge cases, the registry, and property tests (ranges, raw agreement)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cx import kpi
from cx.errors import ValidationError
from cx.kpi import KPIS
from cx.models import DailyFact
from etl.aggregate import daily_facts
from ui.i18n import catalog

# --------------------------------------------------------------------------------------------- hand fixtures


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((10, 5, 2), 30.0),  # 50 % promoters − 20 % detractors
        ((4, 0, 4), -100.0),  # all detractors
        ((3, 3, 0), 100.0),  # all promoters
        ((5, 0, 0), 0.0),  # all passives
        ((0, 0, 0), None),  # no responses
    ],
)
def test_nps(args: tuple[int, int, int], expected: float | None) -> None:
    assert kpi.nps(*args) == expected


def test_survey_scores() -> None:
    assert kpi.csat(8, 6) == 75.0
    assert kpi.csat(0, 0) is None
    assert kpi.ces_mean(4, 22) == 5.5
    assert kpi.ces_agree(4, 3) == 75.0
    assert kpi.ces_mean(0, 0) is None


def test_service_operations() -> None:
    assert kpi.fcr(20, 15) == 75.0
    assert kpi.fcr(0, 0) is None
    assert kpi.frt(4, 400.0) == 100.0
    assert kpi.aht(3, 900.0) == 300.0
    assert kpi.aht(0, 0.0) is None  # every handle time missing: no AHT, never 0 s
    assert kpi.asa(5, 50.0) == 10.0
    assert kpi.abandonment_rate(100, 10) == 10.0
    # 10 abandons of 100 offered, 4 of them within 5 s: (10 − 4) / (100 − 4)
    assert kpi.abandonment_rate_adjusted(100, 10, 4) == pytest.approx(6.25)
    assert kpi.abandonment_rate_adjusted(4, 4, 4) is None
    assert kpi.service_level(50, 40) == 80.0
    assert kpi.service_level(0, 0) is None


def test_rates_counts_and_stocks() -> None:
    assert kpi.complaint_rate(200, 10) == 5.0
    assert kpi.repeat_contact_rate(200, 30) == 15.0
    assert kpi.digital_share(10, 7) == 70.0
    assert kpi.channel_mix({"phone": 30, "chat": 10}) == {"phone": 75.0, "chat": 25.0}
    assert kpi.channel_mix({"phone": 0}) == {}
    assert kpi.sla_breach_rate(40, 10) == 25.0
    # 12 opened and 5 resolved before; 6 opened and 8 resolved in the period: 5 still open
    assert kpi.backlog(12, 5, 6, 8) == 5
    # S = 200 at the start, 30 new, E = 210 at the end: (210 − 30) / 200 = 90 %
    assert kpi.customer_retention(200, 210, 30) == 90.0
    assert kpi.customer_retention(0, 30, 30) is None
    # the same from flows: 260 gained − 60 lost before (S = 200), 30 gained and 20 lost in the period (E = 210)
    assert kpi.retention_from_flows(260, 60, 30, 20) == 90.0


# --------------------------------------------------------------------------------------------- registry


def test_registry_is_consistent() -> None:
    fact_columns = {c.name for c in DailyFact.__table__.columns}
    strings = catalog()
    for key, definition in KPIS.items():
        assert definition.key == key
        assert key not in fact_columns, f"{key}: a KPI key must not shadow a daily_facts column"
        assert definition.unit in ("score", "percent", "seconds", "count")
        assert definition.direction in ("higher", "lower")
        assert set(definition.columns) <= fact_columns, key
        assert definition.name_key in strings and definition.help_key in strings, key
        assert definition.definition, f"{key}: the formula needs a docstring with its definition"
    assert KPIS["nps"].unit == "score" and KPIS["nps"].bounds == (-100.0, 100.0)
    assert KPIS["backlog"].cumulative and KPIS["retention"].cumulative and not KPIS["nps"].cumulative
    with pytest.raises(ValidationError, match="Unknown KPI 'npx'"):
        kpi.get("npx")


def test_expression_and_scalar_agree_including_empty_groups() -> None:
    sums = pl.DataFrame(
        {
            "g": ["a", "b"],
            **{c: [7, 0] for k in KPIS.values() for c in k.arguments},
        }
    ).with_columns(nps_promoters=pl.lit(4), nps_detractors=pl.lit(1), nps_responses=pl.Series([7, 0]))
    result = sums.with_columns(k.expr() for k in KPIS.values())
    for row in result.iter_rows(named=True):
        for key, definition in KPIS.items():
            assert row[key] == definition.value(row), (key, row["g"])
    assert result.filter(pl.col("g") == "b")["nps"].item() is None


def test_summarise_period_prior_and_groups() -> None:
    facts = pl.LazyFrame(
        {
            "day": [date(2025, 12, 30), date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)],
            "channel": ["phone", "phone", "chat", "phone"],
            "nps_responses": [10, 2, 4, 0],
            "nps_promoters": [10, 1, 1, 0],
            "nps_detractors": [0, 1, 3, 0],
            "cases_opened": [5, 2, 1, 9],
            "cases_resolved": [1, 1, 2, 0],
        }
    )
    total = kpi.summarise(facts, ["nps", "backlog"], date(2026, 1, 1), date(2026, 1, 2)).collect()
    assert total["nps"].item() == pytest.approx(100 * (2 - 4) / 6)  # the 2025 responses are before the period
    assert total["backlog"].item() == (5 - 1) + (2 + 1) - (1 + 2)  # the day after the period is ignored
    by_channel = kpi.summarise(facts, ["nps"], date(2026, 1, 1), date(2026, 1, 2), by=["channel"]).collect()
    assert dict(by_channel.select("channel", "nps").iter_rows()) == {"phone": 0.0, "chat": -50.0}


# --------------------------------------------------------------------------------------------- properties

counts = st.integers(min_value=0, max_value=10_000)


@given(st.lists(st.one_of(st.none(), st.integers(0, 10)), max_size=60))
def test_nps_range_and_agreement_with_raw_answers(answers: list[int | None]) -> None:
    given_answers = [a for a in answers if a is not None]
    value = kpi.nps(len(given_answers), sum(a >= 9 for a in given_answers), sum(a <= 6 for a in given_answers))
    if not given_answers:
        assert value is None
    else:
        assert -100 <= value <= 100
        direct = 100 * (sum(a >= 9 for a in given_answers) - sum(a <= 6 for a in given_answers)) / len(given_answers)
        assert value == pytest.approx(direct)


@st.composite
def consistent_sums(draw: st.DrawFn) -> dict[str, float]:
    """Summed daily-fact columns that real data can produce (parts never exceed their whole)."""
    s: dict[str, float] = {}
    s["nps_responses"] = draw(counts)
    s["nps_promoters"] = draw(st.integers(0, s["nps_responses"]))
    s["nps_detractors"] = draw(st.integers(0, s["nps_responses"] - s["nps_promoters"]))
    s["csat_responses"] = draw(counts)
    s["csat_satisfied"] = draw(st.integers(0, s["csat_responses"]))
    s["ces_responses"] = draw(counts)
    s["ces_sum"] = draw(st.integers(s["ces_responses"], 7 * s["ces_responses"]))
    s["ces_agree"] = draw(st.integers(0, s["ces_responses"]))
    s["fcr_cases"] = draw(counts)
    s["fcr_resolved"] = draw(st.integers(0, s["fcr_cases"]))
    for n, total in (("first_responses", "first_response_s_sum"), ("handled", "handle_s_sum")):
        s[n] = draw(counts)
        s[total] = draw(st.floats(0, 1e7)) if s[n] else 0.0
    s["offered"] = draw(counts)
    s["abandoned"] = draw(st.integers(0, s["offered"]))
    s["abandoned_short"] = draw(st.integers(0, s["abandoned"]))
    s["answered"] = s["offered"] - s["abandoned"]
    s["answered_waits"] = draw(st.integers(0, s["answered"]))
    s["answered_wait_s_sum"] = draw(st.floats(0, 1e7)) if s["answered_waits"] else 0.0
    s["answered_within_sl"] = draw(st.integers(0, s["answered"]))
    s["inbound_contacts"] = draw(counts)
    for part in ("digital_contacts", "complaints", "repeat_contacts"):
        s[part] = draw(st.integers(0, s["inbound_contacts"]))
    s["sla_measured"] = draw(counts)
    s["sla_breached"] = draw(st.integers(0, s["sla_measured"]))
    for prefix in ("prior_", ""):
        s[f"{prefix}cases_opened"] = draw(counts)
    s["prior_cases_resolved"] = draw(st.integers(0, s["prior_cases_opened"]))
    open_now = s["prior_cases_opened"] - s["prior_cases_resolved"] + s["cases_opened"]
    s["cases_resolved"] = draw(st.integers(0, open_now))
    s["prior_customers_gained"] = draw(counts)
    s["prior_customers_lost"] = draw(st.integers(0, s["prior_customers_gained"]))
    s["customers_gained"] = draw(counts)
    start = s["prior_customers_gained"] - s["prior_customers_lost"]
    s["customers_lost"] = draw(st.integers(0, start + s["customers_gained"]))
    return s


@given(consistent_sums())
def test_every_kpi_stays_in_its_range(sums: dict[str, float]) -> None:
    for key, definition in KPIS.items():
        value = definition.value(sums)
        if value is None:
            continue
        low, high = definition.bounds
        assert low is None or value >= low - 1e-9, (key, value)
        assert high is None or value <= high + 1e-9, (key, value)


# Raw interactions drawn at random, aggregated by etl.aggregate.daily_facts, then summed and run through the
# registry, must give the same number as a direct computation on the raw rows.
_START = datetime(2026, 1, 1, tzinfo=UTC)
raw_rows = st.lists(
    st.fixed_dictionaries(
        {
            "minute": st.integers(0, 60 * 24 * 20),
            "channel": st.sampled_from(["phone", "chat", "web", "survey"]),
            "kind": st.sampled_from(["inquiry", "complaint", "visit", None]),
            "nps": st.one_of(st.none(), st.integers(0, 10)),
            "csat": st.one_of(st.none(), st.integers(1, 5)),
            "ces": st.one_of(st.none(), st.integers(1, 7)),
            "handle_s": st.one_of(st.none(), st.floats(1, 3600)),
            "queue_wait_s": st.one_of(st.none(), st.floats(0, 120)),
            "abandoned": st.one_of(st.none(), st.booleans()),
        }
    ),
    max_size=40,
)


def _raw_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "interaction_id": f"t:{i}",
                "record_id": str(i),
                "occurred_at": _START + timedelta(minutes=row["minute"]),
                "touchpoint": "repair",
                "profile_id": f"p{i % 3}",
                **{k: v for k, v in row.items() if k != "minute"},
            }
            for i, row in enumerate(rows)
        ],
        schema_overrides={"nps": pl.Int8, "csat": pl.Int8, "ces": pl.Int8, "abandoned": pl.Boolean},
    )


def _ratio(numerator: float, denominator: float, scale: float = 100.0) -> float | None:
    return None if denominator == 0 else scale * numerator / denominator


@settings(max_examples=40, deadline=None)
@given(raw_rows)
def test_kpis_from_facts_agree_with_raw_interactions(rows: list[dict]) -> None:
    raw = _raw_frame(rows) if rows else None
    if raw is None:
        return
    facts = daily_facts(raw.lazy(), timezone="Asia/Shanghai", touchpoint_departments={"repair": "service"})
    keys = ["nps", "csat", "ces", "aht", "asa", "abandonment", "service_level", "complaint_rate", "contact_volume"]
    got = kpi.summarise(facts, keys, date(2025, 12, 1), date(2026, 2, 1)).collect().row(0, named=True)
    records = raw.to_dicts()
    answered_nps = [r["nps"] for r in records if r["nps"] is not None]
    csat = [r["csat"] for r in records if r["csat"] is not None]
    ces = [r["ces"] for r in records if r["ces"] is not None]
    handled = [r["handle_s"] for r in records if r["handle_s"] is not None and not r["abandoned"]]
    offered = [r for r in records if r["queue_wait_s"] is not None or r["abandoned"] is not None]
    answered = [r for r in offered if not r["abandoned"]]
    waits = [r["queue_wait_s"] for r in answered if r["queue_wait_s"] is not None]
    contacts = [r for r in records if r["kind"] != "visit" and r["channel"] != "survey"]
    expected = {
        "nps": _ratio(sum(a >= 9 for a in answered_nps) - sum(a <= 6 for a in answered_nps), len(answered_nps)),
        "csat": _ratio(sum(a >= 4 for a in csat), len(csat)),
        "ces": _ratio(sum(ces), len(ces), 1.0),
        "aht": _ratio(sum(handled), len(handled), 1.0),
        "asa": _ratio(sum(waits), len(waits), 1.0),
        "abandonment": _ratio(sum(bool(r["abandoned"]) for r in offered), len(offered)),
        "service_level": _ratio(sum(w <= 20 for w in waits), len(offered)),
        "complaint_rate": _ratio(sum(r["kind"] == "complaint" for r in contacts), len(contacts)),
        "contact_volume": float(len(contacts)),
    }
    for key, value in expected.items():
        assert got[key] == (None if value is None else pytest.approx(value)), key
