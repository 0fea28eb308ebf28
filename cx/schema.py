"""The canonical interaction schema every source is mapped onto (ARCHITECTURE.md, "Canonical interaction")."""

from __future__ import annotations

from typing import Final

import polars as pl

CHANNELS: Final = ("phone", "chat", "email", "social", "wechat", "app", "web", "sms", "store", "survey")
KINDS: Final = ("inquiry", "complaint", "suggestion", "praise", "purchase", "visit", "survey")
DIRECTIONS: Final = ("inbound", "outbound")

#: Identifiers that link records deterministically (shared value = same customer, after the guards).
STRONG_IDENTIFIERS: Final = ("phone", "email", "wechat_id", "device_id", "crm_id", "member_id", "social_handle")
#: Attributes used only for fuzzy matching, never alone.
FUZZY_ATTRIBUTES: Final = ("name", "birth_date", "address", "postcode")

#: Canonical field -> polars dtype after validation. Order is the column order of `interactions`.
CANONICAL_FIELDS: Final[dict[str, pl.DataType | type[pl.DataType]]] = {
    "record_id": pl.String,
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
    "stage": pl.String,
    "touchpoint": pl.String,
    "direction": pl.String,
    "kind": pl.String,
    "text": pl.String,
    "agent_id": pl.String,
    "team": pl.String,
    "case_id": pl.String,
    "queue_wait_s": pl.Float64,
    "first_response_s": pl.Float64,
    "handle_s": pl.Float64,
    "abandoned": pl.Boolean,
    "resolved": pl.Boolean,
    "nps": pl.Int8,
    "csat": pl.Int8,
    "ces": pl.Int8,
    "extra": pl.String,  # JSON object of every unmapped source column
}

#: Fields a source must provide (after mapping and constants); everything else is optional.
REQUIRED_FIELDS: Final = ("record_id", "occurred_at")

#: Inclusive score ranges checked by validation.
SCORE_RANGES: Final[dict[str, tuple[int, int]]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def interaction_id_expr(source: pl.Expr | str = "source", record_id: pl.Expr | str = "record_id") -> pl.Expr:
    """Stable interaction id: ``<source>:<record_id>`` (the same record always gets the same id)."""
    src = pl.col(source) if isinstance(source, str) else source
    rec = pl.col(record_id) if isinstance(record_id, str) else record_id
    return pl.concat_str([src, pl.lit(":"), rec]).alias("interaction_id")
