"""Observed journeys on hand-made fixtures: sequences, top paths, Sankey links, reach/drop-off, switches, times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine

from cx import paths
from cx.access import Principal, Role
from cx.db import transaction
from cx.errors import PermissionDenied, ValidationError
from cx.models import Interaction, Profile

VIEWER = Principal(user_id=1, username="viewer", display_name="Viewer", role=Role.AGENT)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STAGES = ["pre_sale", "purchase", "delivery", "after_sale"]
STAGE_OF = {"web_browse": "pre_sale", "checkout": "purchase", "shipping": "delivery", "returns": "after_sale"}


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# (profile_id, hours after T0, touchpoint, channel, kind, nps)
ROWS = [
    # c1: a long journey with a repeated step (collapsed) and a loop back to an earlier stage
    ("c1", 0, "web_browse", "web", "visit", None),
    ("c1", 2, "checkout", "app", "purchase", None),
    ("c1", 50, "shipping", "phone", "inquiry", None),
    ("c1", 51, "shipping", "phone", "complaint", None),
    ("c1", 80, "returns", "phone", "complaint", None),
    ("c1", 120, "shipping", "phone", "inquiry", None),
    # c2: one step only
    ("c2", 1, "web_browse", "web", "visit", None),
    # c3 and c4: the most common path
    ("c3", 1, "web_browse", "web", "visit", None),
    ("c3", 1.5, "checkout", "app", "purchase", None),
    ("c4", 3, "web_browse", "web", "visit", None),
    ("c4", 75, "checkout", "app", "purchase", 3),
    # rows left out of paths: no profile, no touchpoint
    (None, 5, "shipping", "phone", "inquiry", None),
    ("c5", 6, None, "sms", "inquiry", None),
]


@pytest.fixture
def interactions() -> pl.LazyFrame:
    frame = pl.DataFrame(
        {
            "interaction_id": [f"i{i:02d}" for i in range(len(ROWS))],
            "profile_id": [r[0] for r in ROWS],
            "occurred_at": [_h(r[1]) for r in ROWS],
            "touchpoint": [r[2] for r in ROWS],
            "stage": [STAGE_OF.get(r[2]) for r in ROWS],
            "channel": [r[3] for r in ROWS],
            "kind": [r[4] for r in ROWS],
            "nps": [r[5] for r in ROWS],
        },
        schema_overrides={"nps": pl.Int8, "occurred_at": pl.Datetime("us", "UTC")},
    )
    return frame.sample(fraction=1.0, shuffle=True, seed=3).lazy()  # order of input must not matter


def test_sequences_collapse_repeats_and_keep_loops(interactions: pl.LazyFrame) -> None:
    got = paths.sequences(interactions).sort("profile_id").collect()
    assert got["profile_id"].to_list() == ["c1", "c2", "c3", "c4"]
    assert got["steps"].to_list() == [
        ["web_browse", "checkout", "shipping", "returns", "shipping"],
        ["web_browse"],
        ["web_browse", "checkout"],
        ["web_browse", "checkout"],
    ]
    assert got["n_steps"].to_list() == [5, 1, 2, 2]
    by_stage = paths.sequences(interactions, "stage").sort("profile_id").collect()
    assert by_stage["steps"][0].to_list() == ["pre_sale", "purchase", "delivery", "after_sale", "delivery"]


def test_top_paths_count_customers(interactions: pl.LazyFrame) -> None:
    top = paths.top_paths(interactions, top_n=2)
    assert top["path"].to_list()[0] == ["web_browse", "checkout"]
    assert top["customers"].to_list() == [2, 1] and top["share"][0] == pytest.approx(0.5)
    cut = paths.top_paths(interactions, top_n=5, max_steps=3)
    long = cut.filter(pl.col("path").list.len() == 3)
    assert long["path"].to_list() == [["web_browse", "checkout", "shipping"]] and long["complete"].to_list() == [False]


def test_sankey_links_include_loops_and_one_step_customers(interactions: pl.LazyFrame) -> None:
    sankey = paths.sankey_links(interactions, top_n=10, max_steps=6)
    links = {
        ((sankey.columns[s], sankey.steps[s]), (sankey.columns[t], sankey.steps[t])): v
        for s, t, v in zip(sankey.sources, sankey.targets, sankey.values, strict=True)
    }
    end = (6, paths.END)
    assert links == {
        ((0, "web_browse"), (1, "checkout")): 3,
        ((0, "web_browse"), end): 1,  # c2: one step, then left
        ((1, "checkout"), end): 2,
        ((1, "checkout"), (2, "shipping")): 1,
        ((2, "shipping"), (3, "returns")): 1,
        ((3, "returns"), (4, "shipping")): 1,  # the loop back to delivery goes forward to a later column
        ((4, "shipping"), end): 1,
    }
    assert sankey.customers == sankey.total_customers == 4
    assert all(s != t for s, t in zip(sankey.sources, sankey.targets, strict=True))


def test_stage_reach_and_drop_off(interactions: pl.LazyFrame) -> None:
    reach = paths.stage_reach(interactions, STAGES)
    expected = pl.DataFrame(
        {
            "stage": STAGES,
            "position": [1, 2, 3, 4],
            "customers": [4, 3, 1, 1],
            "continued": [3, 1, 1, 0],
            "dropped": [1, 2, 0, 1],
            "drop_off_rate": [0.25, 2 / 3, 0.0, None],
            "reach_rate": [1.0, 0.75, 0.25, 0.25],
        }
    )
    assert_frame_equal(reach, expected, check_dtypes=False)


def test_channel_switches_within_24_hours(interactions: pl.LazyFrame) -> None:
    switches = paths.channel_switches(interactions)
    # c1 web->app after 2 h, c3 web->app after 30 min; c4's app came 72 h later; c1's phone came 48 h later
    assert switches.to_dicts() == [
        {"from_channel": "web", "to_channel": "app", "switches": 2, "customers": 2, "median_gap_s": 4500.0}
    ]
    wider = paths.channel_switches(interactions, within=timedelta(days=3))
    assert set(zip(wider["from_channel"], wider["to_channel"], wider["switches"], strict=True)) == {
        ("web", "app", 3),
        ("app", "phone", 1),
    }


def test_step_times_median_and_p90(interactions: pl.LazyFrame) -> None:
    times = paths.step_times(interactions)
    overall = times.row(0, named=True)
    # gaps in hours: c1 2, 48, 30, 40; c3 0.5; c4 72
    gaps = sorted([2, 48, 30, 40, 0.5, 72])
    assert overall["from_step"] == "*" and overall["transitions"] == 6
    assert overall["median_s"] == pytest.approx(3600 * (30 + 40) / 2)
    assert overall["p90_s"] == pytest.approx(3600 * pl.Series(gaps).quantile(0.9, interpolation="linear"))
    web_checkout = times.filter((pl.col("from_step") == "web_browse") & (pl.col("to_step") == "checkout")).row(
        0, named=True
    )
    assert web_checkout["transitions"] == 3 and web_checkout["median_s"] == pytest.approx(2 * 3600)


def test_outcome_and_dimension_filters_choose_whole_journeys(interactions: pl.LazyFrame) -> None:
    def customers(chosen: paths.PathFilter) -> list[str]:
        return sorted(paths.apply_filter(interactions, chosen).select("profile_id").unique().collect().to_series())

    assert customers(paths.PathFilter(outcome="detractors")) == ["c4"]
    assert customers(paths.PathFilter(outcome="complainants")) == ["c1"]
    assert customers(paths.PathFilter(outcome="promoters")) == []
    assert customers(paths.PathFilter(touchpoints=("returns",))) == ["c1"]
    assert customers(paths.PathFilter(channels=("app",))) == ["c1", "c3", "c4"]
    # journeys stay whole: c1's path still starts at web_browse though only 'returns' was asked for
    whole = paths.sequences(paths.apply_filter(interactions, paths.PathFilter(touchpoints=("returns",)))).collect()
    assert whole["steps"][0].to_list()[0] == "web_browse"
    # the period cuts rows (days in the given time zone): 2026-03-02 only
    day_one = paths.PathFilter(start=date(2026, 3, 2), end=date(2026, 3, 2), timezone="UTC")
    assert paths.sequences(paths.apply_filter(interactions, day_one)).collect().height == 4
    with pytest.raises(ValidationError, match="Unknown outcome 'happy'"):
        paths.PathFilter(outcome="happy")


def test_empty_input_gives_empty_results() -> None:
    empty = pl.LazyFrame(
        schema={
            "profile_id": pl.String,
            "occurred_at": pl.Datetime("us", "UTC"),
            "touchpoint": pl.String,
            "stage": pl.String,
            "channel": pl.String,
            "kind": pl.String,
            "nps": pl.Int8,
        }
    )
    observed = paths.observe(empty, STAGES, paths.PathFilter())
    assert observed.customers == 0 and observed.sankey.empty and observed.paths.is_empty()
    assert observed.reach["customers"].to_list() == [0, 0, 0, 0] and observed.switches.is_empty()
    assert observed.times.is_empty()


def test_read_interactions_selects_the_period_and_segment(engine: Engine, interactions: pl.LazyFrame) -> None:
    frame = interactions.collect()
    with transaction(engine) as session:
        session.add_all([Profile(profile_id=p, segment="vip" if p == "c1" else "standard") for p in ("c1", "c2")])
        for i, row in enumerate(frame.iter_rows(named=True)):
            session.add(
                Interaction(
                    interaction_id=row["interaction_id"], record_id=str(i), source="t", **{
                        k: row[k] for k in ("profile_id", "occurred_at", "touchpoint", "stage", "channel", "kind", "nps")
                    }
                )
            )  # fmt: skip
    with transaction(engine) as session:
        everything = paths.read_interactions(session, paths.PATH_COLUMNS)
        assert everything.height == len(ROWS) and everything.schema["occurred_at"] == pl.Datetime("us", "UTC")
        assert everything.schema["nps"] == pl.Int8
        first_day = paths.read_interactions(
            session,
            ["profile_id", "occurred_at"],
            start=date(2026, 3, 2),
            end=date(2026, 3, 2),
            timezone="Asia/Shanghai",
        )
        # Shanghai day 2026-03-02 ends at 16:00 UTC: rows at 08:00..15:30 UTC (hours 0..7.5)
        assert first_day.height == sum(1 for r in ROWS if r[1] < 8)
        vip = paths.read_interactions(session, ["profile_id", "segment"], segments=["vip"], with_profile_only=True)
        assert set(vip["profile_id"]) == {"c1"} and set(vip["segment"]) == {"vip"}
        observed = paths.observe_stored(session, VIEWER, STAGES, paths.PathFilter())
        with pytest.raises(PermissionDenied):
            paths.observe_stored(session, None, STAGES, paths.PathFilter())
    assert observed.customers == 5 and observed.sankey.total_customers == 4


def test_min_steps_leaves_out_one_step_customers(interactions: pl.LazyFrame) -> None:
    top = paths.top_paths(interactions, min_steps=2)
    assert [p for p in top["path"].to_list() if len(p) == 1] == []
    assert top["customers"].sum() == 3 and top["share"].sum() == pytest.approx(1.0)
    sankey = paths.sankey_links(interactions, min_steps=2)
    assert sankey.total_customers == 3 and sankey.customers == 3
    with pytest.raises(ValidationError, match="min_steps between 1 and max_steps"):
        paths.top_paths(interactions, min_steps=7)


def test_hash_collisions_never_mix_customers(interactions: pl.LazyFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = paths.sequences(interactions).sort("profile_id").collect()
    monkeypatch.setattr(paths, "_id_hash", lambda ids: pl.lit(1, dtype=pl.UInt64))  # every id collides
    colliding = paths.sequences(interactions).sort("profile_id").collect()
    assert_frame_equal(colliding, expected)
