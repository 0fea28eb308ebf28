"""Customer profiles: one row per profile_id, a pure function of that profile's own interactions (vectorised).

Because a profile depends only on its own records, a full run and an incremental run give the same row.

- ``display_name``: the name seen most often (ties: the most recent); ``name_key`` its matching key.
- ``primary_phone`` / ``primary_email`` / ``wechat_id``: the value seen most often (ties: most recent); phones
  only when valid (E.164), e-mails only when well-formed.
- ``city`` / ``member_tier`` / ``segment``: the latest value from a source's ``[profile]`` mapping (kept in
  ``extra``); ``segment`` defaults to ``member_tier``, else ``member`` (has a member id) or ``guest``.
- ``channels``: sorted list of channels used; ``first_seen`` / ``last_seen``; ``interaction_count``;
  ``complaint_count`` (kind complaint); ``open_complaints``: complaint cases (``case_id``, else the record) with no
  record marked resolved.
- ``latest_nps`` / ``latest_csat`` / ``latest_ces``: the last answered score; ``*_trend``: latest minus the mean
  of the earlier answers (null with one answer) — negative means falling.
- ``experience_score``: 0–100, the mean of the latest scores scaled to 0–100 (NPS /10, CSAT (x-1)/4, CES (x-1)/6).
- ``stage``: the journey stage of the latest record that has one.
- ``risk_score`` (0–100) and ``risk_reasons`` (list of ``{"code", "points", "value"}``), see RISK_POINTS:
  ``repeat_contacts`` (≥ REPEAT_CONTACTS inbound contacts in the REPEAT_WINDOW_DAYS before the last contact),
  ``open_complaints``, ``falling_scores`` (a trend at or below its threshold), ``detractor`` (latest NPS ≤ 6),
  ``low_csat`` (latest CSAT ≤ 2), ``hard_effort`` (latest CES ≤ 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import polars as pl

from cx.schema import CHANNELS
from etl.normalise import name_key_expr

REPEAT_WINDOW_DAYS: Final = 30
REPEAT_CONTACTS: Final = 3
RISK_POINTS: Final = {
    "repeat_contacts": 30,
    "open_complaints": 25,
    "falling_scores": 20,
    "detractor": 15,
    "low_csat": 15,
    "hard_effort": 10,
}
FALLING: Final = {"nps": -2.0, "csat": -1.0, "ces": -1.0}
NON_CONTACT_KINDS: Final = ("visit", "purchase", "survey")
#: Columns of an interaction frame the step reads.
INPUT_COLUMNS: Final = (
    "interaction_id",
    "profile_id",
    "occurred_at",
    "channel",
    "phone",
    "email",
    "wechat_id",
    "member_id",
    "name",
    "birth_date",
    "stage",
    "direction",
    "kind",
    "case_id",
    "resolved",
    "nps",
    "csat",
    "ces",
    "extra",
)
#: Columns of the result: cx.models.Profile.
PROFILE_COLUMNS: Final = (
    "profile_id",
    "display_name",
    "name_key",
    "primary_phone",
    "primary_email",
    "wechat_id",
    "city",
    "member_tier",
    "birth_date",
    "channels",
    "first_seen",
    "last_seen",
    "interaction_count",
    "complaint_count",
    "open_complaints",
    "latest_nps",
    "latest_csat",
    "latest_ces",
    "nps_trend",
    "csat_trend",
    "ces_trend",
    "experience_score",
    "stage",
    "risk_score",
    "risk_reasons",
    "segment",
    "updated_at",
)
_E164: Final = r"^\+[1-9][0-9]{6,14}$"
_EMAIL: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _most_common(
    frame: pl.LazyFrame, column: str, *, valid: pl.Expr | None = None, extra: Sequence[str] = ()
) -> pl.LazyFrame:
    """``_pid, <column>``: the most frequent non-null value per profile (ties: the most recent, then the smallest);
    ``extra``: columns that are functions of the value (their first non-null value)."""
    rows = frame.filter(pl.col(column).is_not_null())
    if valid is not None:
        rows = rows.filter(valid)
    return (
        rows.group_by("_pid", column)
        .agg(
            pl.len().alias("_n"),
            pl.col("occurred_at").max().alias("_last"),
            *(pl.col(c).drop_nulls().first() for c in extra),
        )
        .sort(["_pid", "_n", "_last", column], descending=[False, True, True, False])
        .unique("_pid", keep="first")
        .select("_pid", column, *extra)
    )


def _json_of_masks(masks: pl.Series, names: list[str]) -> pl.Series:
    """Bit masks over ``names`` (bit i = names[i]) -> JSON text of the sorted names, decoded once per distinct mask."""
    distinct = masks.unique().drop_nulls().to_list()
    table = pl.DataFrame(
        {
            "m": distinct,
            "j": [
                "[" + ",".join(f'"{n}"' for n in sorted(n for i, n in enumerate(names) if m & (1 << i))) + "]"
                for m in distinct
            ],
        },
        schema={"m": masks.dtype, "j": pl.String},
    )
    return masks.alias("m").to_frame().join(table, on="m", how="left", maintain_order="left").get_column("j")


def build_profiles(interactions: pl.LazyFrame | pl.DataFrame, *, updated_at: datetime) -> pl.DataFrame:
    """Step: interactions (with ``profile_id``) -> one profile row per profile (columns of cx.models.Profile).

    ``updated_at`` is stamped on every row (the run's time). Records without a profile id are ignored.

    Cost: the rows are sorted once by (profile, time, interaction id) on an integer profile code, so the "latest"
    values and the per-profile sums are one pass over sorted groups; the most-common values are one small
    group-by each.
    """
    lf = interactions.lazy() if isinstance(interactions, pl.DataFrame) else interactions
    schema = lf.collect_schema()
    has_key = "name_key" in schema  # normalised records carry their name key: reuse it (it is costly to compute)
    wanted = [*INPUT_COLUMNS, *(["name_key"] if has_key else [])]
    contact = (
        (pl.col("direction").fill_null("") != "outbound")
        & ~pl.col("kind").fill_null("").is_in(NON_CONTACT_KINDS)
        & (pl.col("channel") != "survey")
    )
    complaint = pl.col("kind") == "complaint"
    no_case = pl.col("case_id").is_null()
    # [profile] attributes kept in ``extra`` (only rows that mention the key are parsed)
    attributes = {"city": "city", "member_tier": "member_tier", "segment": "segment_attr"}
    lf = (
        lf.select(
            *(pl.col(c) for c in wanted if c in schema),
            *(pl.lit(None, dtype=pl.String).alias(c) for c in INPUT_COLUMNS if c not in schema),
        )
        .filter(pl.col("profile_id").is_not_null())
        .with_columns(pl.col("profile_id").cast(pl.Categorical).to_physical().alias("_pid"))
        .collect()
        .lazy()
    )
    # the columns the time-ordered pass needs, sorted once by (profile, time, interaction id)
    timeline = (
        lf.select(
            "_pid",
            "profile_id",
            "occurred_at",
            "interaction_id",
            "stage",
            "nps",
            "csat",
            "ces",
            contact.alias("_contact"),
            "channel",
            complaint.alias("_complaint"),
            pl.col("member_id").is_not_null().alias("_member"),
            # a case is a case_id; a record without one is a case of its own
            (no_case & complaint.fill_null(False) & ~pl.col("resolved").fill_null(False)).alias("_open_alone"),
            *(
                pl.when(pl.col("extra").str.contains(f'"{key}":', literal=True))
                .then(pl.col("extra").str.json_path_match(f"$.{key}"))
                .alias(alias)
                for key, alias in attributes.items()
            ),
        )
        .sort("_pid", "occurred_at", "interaction_id")
        .collect()
    )
    if timeline.is_empty():
        return _empty_profiles()
    channel_names = sorted(set(CHANNELS) | set(timeline.get_column("channel").drop_nulls().unique().to_list()))
    channel_bit = pl.col("channel").replace_strict(
        channel_names, [1 << i for i in range(len(channel_names))], default=0, return_dtype=pl.Int64
    )
    window = pl.duration(days=REPEAT_WINDOW_DAYS)

    def latest(column: str) -> pl.Expr:  # rows are in time order within each profile
        return pl.col(column).drop_nulls().last()

    def score(name: str) -> list[pl.Expr]:
        values = pl.col(name).drop_nulls().cast(pl.Float64)
        answered = values.len()
        return [
            values.last().cast(pl.Int64).alias(f"latest_{name}"),
            pl.when(answered > 1)
            .then(values.last() - (values.sum() - values.last()) / (answered - 1))
            .otherwise(None)
            .round(3)
            .alias(f"{name}_trend"),
        ]

    base = (
        timeline.lazy()
        .set_sorted("_pid")
        .group_by("_pid")
        .agg(
            pl.col("profile_id").first(),
            channel_bit.bitwise_or().alias("_channels"),
            pl.col("occurred_at").first().alias("first_seen"),
            pl.col("occurred_at").last().alias("last_seen"),
            pl.len().cast(pl.Int64).alias("interaction_count"),
            pl.col("_complaint").sum().cast(pl.Int64).alias("complaint_count"),
            (pl.col("_contact") & (pl.col("occurred_at") > pl.col("occurred_at").last() - window))
            .sum()
            .cast(pl.Int64)
            .alias("_recent_contacts"),
            pl.col("_member").any(),
            pl.col("_open_alone").sum().cast(pl.Int64),
            latest("stage").alias("stage"),
            *score("nps"),
            *score("csat"),
            *score("ces"),
            *(latest(alias) for alias in attributes.values()),
        )
    )
    cases = (
        lf.filter(~no_case)
        .group_by("_pid", "case_id")
        .agg(complaint.any().alias("_complaint"), pl.col("resolved").fill_null(False).any().alias("_resolved"))
        .group_by("_pid")
        .agg((pl.col("_complaint") & ~pl.col("_resolved")).sum().cast(pl.Int64).alias("_open_cases"))
    )
    display = _most_common(lf, "name", extra=["name_key"] if has_key else []).rename({"name": "display_name"})
    parts = [
        cases,
        display,
        _most_common(lf, "phone", valid=pl.col("phone").str.contains(_E164)).rename({"phone": "primary_phone"}),
        _most_common(lf, "email", valid=pl.col("email").str.contains(_EMAIL)).rename({"email": "primary_email"}),
        _most_common(lf, "wechat_id"),
        _most_common(lf, "birth_date"),
    ]
    out = base
    for part in parts:
        out = out.join(part, on="_pid", how="left")
    out = out.with_columns(
        (pl.col("_open_alone") + pl.col("_open_cases").fill_null(0)).cast(pl.Int64).alias("open_complaints")
    )
    scaled = [
        pl.col("latest_nps") / 10,
        (pl.col("latest_csat") - 1) / 4,
        (pl.col("latest_ces") - 1) / 6,
    ]
    answered = pl.sum_horizontal(s.is_not_null().cast(pl.Int64) for s in scaled)
    experience = pl.when(answered > 0).then(pl.sum_horizontal(scaled) / answered * 100).round(1)
    falling = (
        (pl.col("nps_trend") <= FALLING["nps"])
        | (pl.col("csat_trend") <= FALLING["csat"])
        | (pl.col("ces_trend") <= FALLING["ces"])
    ).fill_null(False)
    reasons = [
        ("repeat_contacts", pl.col("_recent_contacts") >= REPEAT_CONTACTS, pl.col("_recent_contacts").cast(pl.Float64)),
        ("open_complaints", pl.col("open_complaints").fill_null(0) > 0, pl.col("open_complaints").cast(pl.Float64)),
        (
            "falling_scores",
            falling,
            pl.min_horizontal(pl.col("nps_trend") / 10, pl.col("csat_trend") / 4, pl.col("ces_trend") / 6).round(3),
        ),
        ("detractor", (pl.col("latest_nps") <= 6).fill_null(False), pl.col("latest_nps").cast(pl.Float64)),
        ("low_csat", (pl.col("latest_csat") <= 2).fill_null(False), pl.col("latest_csat").cast(pl.Float64)),
        ("hard_effort", (pl.col("latest_ces") <= 2).fill_null(False), pl.col("latest_ces").cast(pl.Float64)),
    ]
    # risk_reasons and channels are built as JSON text directly (a list of structs per row is slow to build)
    reason_parts = [
        pl.when(condition).then(
            pl.concat_str(
                [
                    pl.lit(f'{{"code":"{code}","points":{RISK_POINTS[code]},"value":'),
                    value.cast(pl.Float64).cast(pl.String),
                    pl.lit("}"),
                ]
            )
        )
        for code, condition, value in reasons
    ]
    points = pl.sum_horizontal(pl.when(cond).then(RISK_POINTS[code]).otherwise(0) for code, cond, _ in reasons)
    tier = pl.col("member_tier")
    result = (
        out.with_columns(
            experience.alias("experience_score"),
            pl.min_horizontal(points, 100).cast(pl.Float64).alias("risk_score"),
            pl.concat_str(
                [pl.lit("["), pl.concat_str(reason_parts, separator=",", ignore_nulls=True), pl.lit("]")]
            ).alias("risk_reasons"),
            pl.coalesce(
                pl.col("segment_attr"),
                tier,
                pl.when(pl.col("_member")).then(pl.lit("member")).otherwise(pl.lit("guest")),
            ).alias("segment"),
            name_key_expr("display_name").alias("name_key") if not has_key else pl.col("name_key"),
            pl.lit(updated_at).cast(pl.Datetime("us", "UTC")).alias("updated_at"),
        )
        .sort("profile_id")
        .collect()
    )
    return result.with_columns(_json_of_masks(result.get_column("_channels"), channel_names).alias("channels")).select(
        PROFILE_COLUMNS
    )


def _empty_profiles() -> pl.DataFrame:
    from cx.models import Profile
    from etl.load import column_kinds

    types = {"datetime": pl.Datetime("us", "UTC"), "date": pl.Date, "bool": pl.Boolean, "int": pl.Int64}
    kinds = column_kinds(Profile.__table__)
    return pl.DataFrame(
        schema={c: types.get(kinds[c], pl.Float64 if kinds[c] == "float" else pl.String) for c in PROFILE_COLUMNS}
    )
