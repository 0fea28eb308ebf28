"""Fuzzy links between components with no shared strong identifier: name + birth date / postcode / address.

Candidate pairs come from equal blocking keys (a polars self-join per key, never all pairs); names and addresses
are scored with ``rapidfuzz.process.cpdist`` (vectorised, in C). Only a component without any limited identifier
(no crm_id / member_id: "unanchored") gets a fuzzy link, and each gets at most one — to its best match — so a
fuzzy chain can never glue two anchored customers together (every fuzzy tree has at most one anchored root).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from etl.identity_config import FuzzyConfig

FUZZY_SCHEMA: Final = {
    "rec": pl.Int64,
    "matched_rec": pl.Int64,
    "score": pl.Float64,
    "rule": pl.String,
    "birth_date": pl.Boolean,
    "postcode": pl.Boolean,
    "address": pl.Float64,
}


def address_key_expr(column: str = "address") -> pl.Expr:
    """Address comparison key: NFKC, case-folded, every whitespace and punctuation removed."""
    return (
        pl.col(column).cast(pl.String).str.normalize("NFKC").str.to_lowercase().str.replace_all(r"[\s\p{P}\p{S}]+", "")
    )


def _similarity(a: pl.Series, b: pl.Series) -> np.ndarray:
    """Indel similarity 0..1 of aligned pairs (0 where either side is null)."""
    mask = (a.is_not_null() & b.is_not_null()).to_numpy()
    out = np.zeros(len(a), dtype=np.float64)
    if mask.any():
        left = a.filter(pl.Series(mask)).to_list()
        right = b.filter(pl.Series(mask)).to_list()
        out[mask] = cpdist(left, right, scorer=fuzz.ratio, workers=1) / 100.0
    return out


def fuzzy_links(records: pl.DataFrame, labels: np.ndarray, anchored: np.ndarray, config: FuzzyConfig) -> pl.DataFrame:
    """Fuzzy links ``rec -> matched_rec`` (one per linked unanchored component) with score and supports.

    ``records``: ``rec, name_key, birth_date, postcode, address``; ``labels``: component per record
    (smallest record id); ``anchored``: per record, whether its component holds a limited identifier.
    A pair matches when the name similarity reaches ``threshold`` with one supporting attribute (same birth
    date, same postcode, or address similarity ≥ ``address_threshold``), or reaches ``weak_threshold`` with the
    same birth date and a supporting postcode/address.
    """
    if not config.enabled or records.is_empty():
        return pl.DataFrame(schema=FUZZY_SCHEMA)
    cols = {"rec", "name_key", "birth_date", "postcode", "address"}
    missing = cols - set(records.columns)
    frame = records.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in missing])
    block_cols = [
        ("address_key" if k == "address" else ("name_key" if k == "name" else k)) for k in config.blocking_keys
    ]
    rec_idx = frame.get_column("rec").to_numpy()
    frame = frame.with_columns(pl.Series("comp", labels[rec_idx]), pl.Series("anchored", anchored[rec_idx]))
    if "address_key" in block_cols:
        frame = frame.with_columns(address_key_expr("address").alias("address_key"))
    usable = frame.filter(
        pl.col("name_key").is_not_null()
        & pl.any_horizontal([pl.col(c if c != "address_key" else "address").is_not_null() for c in block_cols])
    )
    seekers = usable.filter(~pl.col("anchored"))
    if seekers.is_empty():
        return pl.DataFrame(schema=FUZZY_SCHEMA)
    # only records sharing a block with an unanchored record matter: keep the rest out of every later step
    reach = pl.any_horizontal(
        [pl.col(c).is_in(seekers.get_column(c).drop_nulls().unique().implode()) for c in block_cols]
    )
    near = usable.filter(reach)
    if "address_key" not in near.columns:
        near = near.with_columns(address_key_expr("address").alias("address_key"))
    base = near.group_by("comp", "name_key", "birth_date", "postcode", "address_key").agg(
        pl.col("rec").min(), pl.col("anchored").first()
    )
    sides = ("comp", "rec", "anchored", "name_key", "birth_date", "postcode", "address_key")
    pairs = []
    for key in block_cols:
        keyed = base.filter(pl.col(key).is_not_null())
        big = keyed.group_by(key).agg(pl.col("comp").n_unique().alias("n")).filter(pl.col("n") > config.max_block_size)
        keyed = keyed.join(big, on=key, how="anti")
        left = keyed.filter(~pl.col("anchored")).select(
            pl.col(key).alias("__k"), *[pl.col(c).alias(f"{c}_l") for c in sides]
        )
        right = keyed.select(pl.col(key).alias("__k"), *[pl.col(c).alias(f"{c}_r") for c in sides])
        pairs.append(left.join(right, on="__k").filter(pl.col("comp_l") != pl.col("comp_r")).drop("__k"))
    cand = pl.concat(pairs).unique(subset=["rec_l", "rec_r"])
    if cand.is_empty():
        return pl.DataFrame(schema=FUZZY_SCHEMA)
    name_sim = _similarity(cand.get_column("name_key_l"), cand.get_column("name_key_r"))
    addr_sim = _similarity(cand.get_column("address_key_l"), cand.get_column("address_key_r"))
    cand = cand.with_columns(
        pl.Series("name_sim", name_sim),
        pl.Series("addr_sim", addr_sim),
        (pl.col("birth_date_l") == pl.col("birth_date_r")).fill_null(False).alias("bd"),
        (pl.col("postcode_l") == pl.col("postcode_r")).fill_null(False).alias("pc"),
    )
    addr_ok = pl.col("addr_sim") >= config.address_threshold
    strong = (pl.col("name_sim") >= config.threshold) & (pl.col("bd") | pl.col("pc") | addr_ok)
    weak = (pl.col("name_sim") >= config.weak_threshold) & pl.col("bd") & (pl.col("pc") | addr_ok)
    supports = pl.col("bd").cast(pl.Int32) + pl.col("pc").cast(pl.Int32) + addr_ok.cast(pl.Int32)
    matched = cand.filter(strong | weak).with_columns(
        (pl.col("name_sim") + 0.01 * supports + 0.001 * pl.col("anchored_r").cast(pl.Int32)).alias("rank_score")
    )
    if matched.is_empty():
        return pl.DataFrame(schema=FUZZY_SCHEMA)
    # one link per unanchored component: its best partner; an exact tie between two partners is ambiguous -> none
    best_per_partner = matched.sort("rank_score", "rec_l", "rec_r", descending=[True, False, False]).unique(
        subset=["comp_l", "comp_r"], keep="first", maintain_order=True
    )
    top = best_per_partner.with_columns(pl.col("rank_score").max().over("comp_l").alias("__top")).filter(
        pl.col("rank_score") == pl.col("__top")
    )
    unique_top = top.filter(pl.len().over("comp_l") == 1)
    return unique_top.select(
        pl.col("rec_l").alias("rec"),
        pl.col("rec_r").alias("matched_rec"),
        pl.col("name_sim").alias("score"),
        pl.when(pl.col("bd"))
        .then(pl.lit("fuzzy_name_birth_date"))
        .when(pl.col("pc"))
        .then(pl.lit("fuzzy_name_postcode"))
        .otherwise(pl.lit("fuzzy_name_address"))
        .alias("rule"),
        pl.col("bd").alias("birth_date"),
        pl.col("pc").alias("postcode"),
        pl.col("addr_sim").alias("address"),
    ).sort("rec")


def shared_value_links(
    records: pl.DataFrame,
    cut: pl.DataFrame,
    labels: np.ndarray,
    anchored: np.ndarray,
    threshold: float,
) -> pl.DataFrame:
    """Attach records left apart by a cut conflicting value (a family phone) to the one customer whose name matches.

    ``records``: ``rec, name_key``; ``cut``: ``rec, vid, id_type`` of the cut edges. A record in an unanchored
    component that carried the value is linked to the anchored component that also carried it when exactly one
    such component has a name with similarity ≥ ``threshold``. The shared value is the supporting evidence.
    """
    if cut.is_empty():
        return pl.DataFrame(schema=FUZZY_SCHEMA)
    names = records.select("rec", "name_key").with_columns(
        pl.Series("comp", labels[records.get_column("rec").to_numpy()]),
        pl.Series("anchored", anchored[records.get_column("rec").to_numpy()]),
    )
    carriers = cut.select("rec", "vid").join(names, on="rec")
    left = carriers.filter(~pl.col("anchored") & pl.col("name_key").is_not_null()).select(
        pl.col("comp").alias("comp_l"), pl.col("rec").alias("rec_l"), pl.col("name_key").alias("name_l"), "vid"
    )
    right_comps = carriers.filter(pl.col("anchored")).select("vid", "comp").unique()
    right = (
        right_comps.join(names.filter(pl.col("name_key").is_not_null()), on="comp")
        .group_by("vid", "comp", "name_key")
        .agg(pl.col("rec").min())
        .select("vid", pl.col("comp").alias("comp_r"), pl.col("rec").alias("rec_r"), pl.col("name_key").alias("name_r"))
    )
    cand = left.join(right, on="vid")
    if cand.is_empty():
        return pl.DataFrame(schema=FUZZY_SCHEMA)
    cand = cand.with_columns(pl.Series("score", _similarity(cand.get_column("name_l"), cand.get_column("name_r"))))
    hits = cand.filter(pl.col("score") >= threshold)
    best = hits.sort("score", "rec_l", "rec_r", descending=[True, False, False]).unique(
        subset=["comp_l", "comp_r"], keep="first", maintain_order=True
    )
    single = best.filter(pl.len().over("comp_l") == 1).unique(subset="comp_l", keep="first")
    return single.select(
        pl.col("rec_l").alias("rec"),
        pl.col("rec_r").alias("matched_rec"),
        pl.col("score"),
        pl.lit("shared_identifier_name").alias("rule"),
        pl.lit(None, dtype=pl.Boolean).alias("birth_date"),
        pl.lit(None, dtype=pl.Boolean).alias("postcode"),
        pl.lit(None, dtype=pl.Float64).alias("address"),
    ).sort("rec")
