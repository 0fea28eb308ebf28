"""On the demo dataset: the board's filtered KPIs (daily facts, summed in SQL) equal a direct computation on the raw
interactions (written here independently of cx.kpi and etl.aggregate)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from sqlalchemy import Engine, select

from cx import board_queries as bq
from cx.access import Principal, Role
from cx.boards import Board, BoardScope, Tile
from cx.db import transaction
from cx.filters import Filters
from cx.journey import touchpoint_departments
from cx.journey_store import load_journey
from cx.models import DailyFact, Interaction, Profile
from cx.settings import Settings

KPIS = ("nps", "csat", "ces", "ces_agree_rate", "aht", "asa", "frt", "abandonment", "service_level")
KPIS += ("complaint_rate", "digital_share", "contact_volume")
ADMIN = Principal(1, "admin", "Admin", Role.ADMIN)


def _pct(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    return pl.when(whole > 0).then(100.0 * part / whole)


def direct(raw: pl.DataFrame) -> dict[str, float | None]:
    """Each KPI straight from interaction rows, by its definition."""
    contact = (
        (pl.col("direction").fill_null("") != "outbound")
        & ~pl.col("kind").fill_null("").is_in(["visit", "purchase", "survey"])
        & (pl.col("channel") != "survey")
    )
    offered = (pl.col("direction").fill_null("") != "outbound") & (
        pl.col("queue_wait_s").is_not_null() | pl.col("abandoned").is_not_null()
    )
    answered = offered & ~pl.col("abandoned").fill_null(False)
    waited = answered & pl.col("queue_wait_s").is_not_null()
    handled = pl.col("handle_s").is_not_null() & ~pl.col("abandoned").fill_null(False)
    row = raw.select(
        _pct((pl.col("nps") >= 9).sum() - (pl.col("nps") <= 6).sum(), pl.col("nps").count()).alias("nps"),
        _pct((pl.col("csat") >= 4).sum(), pl.col("csat").count()).alias("csat"),
        pl.col("ces").mean().alias("ces"),
        _pct((pl.col("ces") >= 5).sum(), pl.col("ces").count()).alias("ces_agree_rate"),
        pl.col("handle_s").filter(handled).mean().alias("aht"),
        pl.col("queue_wait_s").filter(waited).mean().alias("asa"),
        pl.col("first_response_s").mean().alias("frt"),
        _pct((offered & pl.col("abandoned").fill_null(False)).sum(), offered.sum()).alias("abandonment"),
        _pct((waited & (pl.col("queue_wait_s") <= 20)).sum(), offered.sum()).alias("service_level"),
        _pct((contact & (pl.col("kind") == "complaint")).sum(), contact.sum()).alias("complaint_rate"),
        _pct(
            (contact & pl.col("channel").is_in(["chat", "email", "social", "wechat", "app", "web", "sms"])).sum(),
            contact.sum(),
        ).alias("digital_share"),  # fmt: skip
        contact.sum().cast(pl.Float64).alias("contact_volume"),
    )
    return row.row(0, named=True)


@pytest.mark.slow
def test_board_kpis_equal_direct_computation_on_the_demo_data(engine: Engine, settings: Settings) -> None:
    from etl.pipeline import load_demo

    load_demo(engine, settings, customers=300, seed=7)
    with transaction(engine) as session:
        owners = touchpoint_departments(load_journey(session))
        last_day = session.scalar(select(DailyFact.day).order_by(DailyFact.day.desc()).limit(1))
        raw = pl.DataFrame(
            [r._asdict() for r in session.execute(select(Interaction.__table__))], infer_schema_length=None
        )
        segments = pl.DataFrame(
            [r._asdict() for r in session.execute(select(Profile.profile_id, Profile.segment))],
            schema={"profile_id": pl.String, "segment": pl.String},
        )
    local = raw.join(segments, on="profile_id", how="left").with_columns(
        pl.col("occurred_at").dt.convert_time_zone(settings.timezone).dt.date().alias("day"),
        pl.col("touchpoint").replace_strict(owners, default=None).alias("department"),
    )
    board = Board("department:service", tuple(Tile(k) for k in KPIS))
    start = last_day - timedelta(days=89)
    segment = segments["segment"].drop_nulls().mode().sort()[0]
    cases = [
        (BoardScope(), Filters(start, last_day), pl.lit(True)),
        (
            BoardScope(department="service", scope_key="department:service"),
            Filters(start, last_day, channels=("phone", "chat")),
            (pl.col("department") == "service") & pl.col("channel").is_in(["phone", "chat"]),
        ),
        (
            BoardScope(department="product", scope_key="department:product"),
            Filters(start, last_day, segments=(segment,)),
            (pl.col("department") == "product") & (pl.col("segment") == segment),
        ),
    ]
    for scope, filters, condition in cases:
        with transaction(engine) as session:
            tiles = {t.kpi: t.value for t in bq.board_tiles(session, ADMIN, scope, filters, board)}
        expected = direct(local.filter(pl.col("day").is_between(filters.start, filters.end) & condition))
        assert expected["contact_volume"] > 0
        for key in KPIS:
            want = expected[key]
            assert tiles[key] == (None if want is None else pytest.approx(want, rel=1e-9)), (key, scope, filters)
