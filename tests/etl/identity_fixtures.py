"""Small hand-made record frames for the identity tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from etl.normalise import normalise_identifiers

COLUMNS = {
    "interaction_id": pl.String,
    "source": pl.String,
    "channel": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "phone": pl.String,
    "email": pl.String,
    "wechat_id": pl.String,
    "device_id": pl.String,
    "crm_id": pl.String,
    "member_id": pl.String,
    "social_handle": pl.String,
    "name": pl.String,
    "birth_date": pl.Date,
    "address": pl.String,
    "postcode": pl.String,
}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def records(*rows: dict[str, Any]) -> pl.DataFrame:
    """Records from dicts (``iid`` -> interaction id; ``day`` -> occurred_at = T0 + day), normalised."""
    full = []
    for i, row in enumerate(rows):
        row = dict(row)
        iid = row.pop("iid")
        day = row.pop("day", i)
        source = iid.split(":")[0]
        full.append(
            {
                "interaction_id": iid,
                "source": source,
                "channel": {"crm": "store", "hotline": "phone", "web": "web", "app": "app"}.get(source, "chat"),
                "occurred_at": T0 + timedelta(days=day),
                **row,
            }
        )
    frame = pl.DataFrame(full, schema_overrides=COLUMNS)
    frame = frame.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in COLUMNS.items() if c not in frame.columns])
    return normalise_identifiers(frame.select(list(COLUMNS)).lazy(), region="CN").collect()


def clusters(assignments: pl.DataFrame) -> set[frozenset[str]]:
    """The partition of interaction ids into profiles (ids themselves ignored)."""
    grouped = assignments.group_by("profile_id").agg(pl.col("interaction_id"))
    return {frozenset(ids) for ids in grouped.get_column("interaction_id").to_list()}


def together(assignments: pl.DataFrame, *iids: str) -> bool:
    found = assignments.filter(pl.col("interaction_id").is_in(list(iids)))
    return found.height == len(iids) and found.get_column("profile_id").n_unique() == 1


def profile_of(assignments: pl.DataFrame, iid: str) -> str:
    return str(assignments.filter(pl.col("interaction_id") == iid).item(0, "profile_id"))


BIRTH = date(1985, 3, 14)
