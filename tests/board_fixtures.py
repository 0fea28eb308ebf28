"""A small deterministic store for board tests: interactions of the last weeks, their daily facts, profiles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import Engine, insert

from cx.db import transaction
from cx.journey import default_journey, touchpoint_departments
from cx.models import Interaction, Profile
from etl.aggregate import daily_facts, write_daily_facts

TZ = "Asia/Shanghai"
TOUCHPOINTS = {
    "repair": ("after_sale", ["phone", "chat"]),
    "returns": ("after_sale", ["phone", "email"]),
    "checkout": ("purchase", ["app", "web"]),
    "shipping": ("delivery", ["phone", "wechat"]),
    "feedback_survey": ("loyalty", ["survey"]),
}


def interactions_frame(n: int = 600, *, seed: int = 11, end: date | None = None, days: int = 75) -> pl.DataFrame:
    """``n`` interactions over the ``days`` days up to ``end`` (default: today in Shanghai)."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(ZoneInfo(TZ)).date()
    start = datetime.combine(end - timedelta(days=days - 1), datetime.min.time(), UTC) - timedelta(hours=8)
    keys = list(TOUCHPOINTS)
    rows = []
    for i in range(n):
        touchpoint = keys[int(rng.integers(0, len(keys)))]
        stage, channels = TOUCHPOINTS[touchpoint]
        channel = channels[int(rng.integers(0, len(channels)))]
        survey = channel == "survey"
        queued = channel == "phone"
        abandoned = bool(queued and rng.random() < 0.08)
        rows.append(
            {
                "interaction_id": f"fx:{i:05d}",
                "record_id": f"{i:05d}",
                "source": "fixture",
                "channel": channel,
                "occurred_at": start + timedelta(minutes=int(rng.integers(0, days * 24 * 60 - 1))),
                "profile_id": f"p{int(rng.integers(0, 120)):04d}",
                "name": "王小明" if i % 2 else "Emily Chen",
                "phone": "+8613800138000",
                "email": "someone@example.com",
                "stage": stage,
                "touchpoint": touchpoint,
                "direction": "inbound",
                "kind": "survey" if survey else ("complaint" if rng.random() < 0.15 else "inquiry"),
                "text": '=HYPERLINK("http://x")' if i == 0 else f"message {i}",
                "agent_id": None if survey or abandoned else f"agent{int(rng.integers(1, 6))}",
                "team": None if survey else ("hotline_a" if rng.random() < 0.6 else "hotline_b"),
                "case_id": None if survey or abandoned else f"case{i // 2}",
                "queue_wait_s": float(rng.integers(1, 90)) if queued else None,
                "first_response_s": float(rng.integers(10, 900)) if channel in ("chat", "email") else None,
                "handle_s": None if survey or abandoned else float(rng.integers(60, 900)),
                "abandoned": abandoned if queued else None,
                "resolved": None if survey or abandoned else bool(rng.random() < 0.75),
                "nps": int(rng.integers(0, 11)) if survey else None,
                "csat": int(rng.integers(1, 6)) if survey or rng.random() < 0.3 else None,
                "ces": int(rng.integers(1, 8)) if survey else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "occurred_at": pl.Datetime("us", "UTC"),
            "nps": pl.Int8,
            "csat": pl.Int8,
            "ces": pl.Int8,
            "queue_wait_s": pl.Float64,
            "first_response_s": pl.Float64,
            "handle_s": pl.Float64,
            "abandoned": pl.Boolean,
            "resolved": pl.Boolean,
        },
    )


def load_board_fixture(engine: Engine, frame: pl.DataFrame | None = None) -> pl.DataFrame:
    """Store the interactions, profiles with segments and their daily facts; returns the interactions."""
    frame = interactions_frame() if frame is None else frame
    profiles = frame.select("profile_id").unique().sort("profile_id")
    profiles = profiles.with_columns(
        pl.when(pl.col("profile_id").str.slice(-1).cast(pl.Int64) % 2 == 0)
        .then(pl.lit("vip"))
        .otherwise(pl.lit("regular"))
        .alias("segment")
    )
    with_segment = frame.join(profiles, on="profile_id", how="left")
    facts = daily_facts(
        with_segment.lazy(), timezone=TZ, touchpoint_departments=touchpoint_departments(default_journey())
    ).collect()
    with transaction(engine) as session:
        session.execute(insert(Interaction), frame.to_dicts())
        session.execute(insert(Profile), profiles.to_dicts())
        write_daily_facts(session.connection(), facts)
    return frame
