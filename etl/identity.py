"""Identity resolution: records -> guarded identity graph -> clusters -> stable profile ids, with evidence.

Two entry points (ARCHITECTURE.md, "Identity resolution"):

``resolve(records, *, previous, overrides, config) -> IdentityResult`` — a full run.
    ``records``: one row per interaction with ``interaction_id, source, channel, occurred_at``, the normalised
    strong identifiers ``phone, email, wechat_id, device_id, crm_id, member_id, social_handle`` and the fuzzy
    attributes ``name, birth_date, address, postcode`` (missing columns count as null). Normalise first with
    ``etl.normalise.normalise_identifiers`` (which also adds ``phone_valid``, ``email_valid`` and ``name_key``;
    where they are absent or null — e.g. records read back from the store — validity is re-derived with
    ``phonenumbers`` under ``config.phone_region`` and the e-mail check). Interaction ids must be unique and
    non-null. ``previous``: the
    ``(interaction_id, profile_id)`` assignment already in the store (``interactions``), or None on a fresh
    store. ``overrides``: active manual overrides (:func:`etl.identity_overrides.load_overrides`).

``resolve_incremental(new_records, *, store, overrides, config) -> IdentityResult`` — a small batch on top of a
    big store (``new_records`` as for ``resolve``; records already stored are re-resolved with their new
    content). It touches only the profiles the new records' identifiers (and fuzzy blocks, and the overrides
    naming their records) reach: ``store`` (:class:`IdentityStore`; :class:`SqlIdentityStore` over a session,
    or any object with the same four methods, e.g. the ETL's bulk reader) answers indexed lookups —
    which profiles hold these identifier values (``identifiers (id_type, value)`` index), the records of these
    profiles (``interactions (profile_id, …)`` index), which profiles have records in these birth-date /
    postcode blocks (partial indexes ``ix_interactions_birth_date`` / ``ix_interactions_postcode``) and which
    profiles hold given records (primary key). The touched profiles are re-resolved together with the new records; values that also occur
    on profiles outside the run are not used for linking (they were not linking before either).

What the caller does with an :class:`IdentityResult` (one transaction):

- ``assignments`` (``interaction_id, profile_id``): set ``interactions.profile_id`` for these records (a full
  run: every record; incremental: the new records and the touched existing ones, whose id may have changed).
- ``links``: replace the ``identity_links`` rows of these interaction ids. ``detail`` is JSON *text*
  (``json.loads`` it for the ORM, or insert it as-is into the JSON column with a raw insert).
- ``identifiers``: replace the ``identifiers`` rows of ``profiles_replaced`` (every profile id of a full run;
  incremental: the touched previous ids and the result's ids). ``sources``/``channels`` are lists of strings.
- ``retired_profile_ids``: previous profile ids no longer used (merged away): delete their ``profiles`` rows.
- ``stats``: counts for the ETL run log (profiles, created, merged, split, kept, guard counts, timings).

Profile ids are ``p`` + 16 hex digits (etl.identity_ids). Cost: vectorised polars/numpy/scipy throughout; about
5 s of CPU for 1,000,000 records on this machine (docs/benchmarks.md, "Identity").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cx.errors import EtlError
from cx.models import Identifier, Interaction
from cx.schema import FUZZY_ATTRIBUTES, STRONG_IDENTIFIERS
from etl.identity_config import FuzzyConfig, IdentityConfig
from etl.identity_fuzzy import fuzzy_links, shared_value_links
from etl.identity_graph import (
    CONFLICT,
    ID_TYPE,
    INCOMPLETE,
    OK,
    SHARED,
    SPLIT_TYPE,
    STATUS,
    apply_frequency_caps,
    components,
    encode_values,
    identifier_edges,
    link,
)
from etl.identity_ids import assign_ids
from etl.identity_overrides import Override, join_pairs, override_records, split_edges
from etl.normalise import email_valid_expr, name_key_expr, phone_lookup

RECORD_COLUMNS: Final = ("interaction_id", "source", "channel", "occurred_at", *STRONG_IDENTIFIERS, *FUZZY_ATTRIBUTES)
#: What :meth:`IdentityStore.block_members` returns.
BLOCK_MEMBER_SCHEMA: Final = {"profile_id": pl.String, "name": pl.String, "birth_date": pl.Date, "postcode": pl.String}
BLOCK_MEMBER_COLUMNS: Final = tuple(BLOCK_MEMBER_SCHEMA)
LINK_SCHEMA: Final = {
    "interaction_id": pl.String,
    "profile_id": pl.String,
    "rule": pl.String,
    "id_type": pl.String,
    "matched_interaction_id": pl.String,
    "score": pl.Float64,
    "detail": pl.String,
}
IDENTIFIER_SCHEMA: Final = {
    "profile_id": pl.String,
    "id_type": pl.String,
    "value": pl.String,
    "sources": pl.List(pl.String),
    "channels": pl.List(pl.String),
    "records": pl.Int64,
    "first_seen": pl.Datetime("us", "UTC"),
    "last_seen": pl.Datetime("us", "UTC"),
}
_TS: Final = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class IdentityStats:
    """What a run did (for the ETL run log and the benchmark)."""

    records: int
    profiles: int
    created: int
    merged: int
    split: int
    kept: int
    conflicted_components: int
    fuzzy_links: int
    override_joins: int
    guarded_values: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class IdentityResult:
    """Output of a run; see the module docstring for how the pipeline writes each part."""

    assignments: pl.DataFrame
    links: pl.DataFrame
    identifiers: pl.DataFrame
    stats: IdentityStats
    retired_profile_ids: list[str]
    profiles_replaced: list[str]


# ------------------------------------------------------------------------------------------------ preparation


def prepare_records(records: pl.DataFrame, config: IdentityConfig) -> pl.DataFrame:
    """Canonical identity columns (missing ones null), validity flags, keys, and ``rec``: the record's position
    in interaction-id order (so results never depend on the input order)."""
    if "interaction_id" not in records.columns:
        raise EtlError("identity: records need an interaction_id column (source + ':' + record_id)")
    string_cols = ["source", "channel", *STRONG_IDENTIFIERS, "name", "address", "postcode"]
    frame = records.with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in string_cols if c not in records.columns]
        + ([pl.lit(None, dtype=pl.Date).alias("birth_date")] if "birth_date" not in records.columns else [])
        + ([pl.lit(None, dtype=_TS).alias("occurred_at")] if "occurred_at" not in records.columns else [])
    )
    if "name_key" not in frame.columns:
        frame = frame.with_columns(name_key_expr("name").alias("name_key"))
    elif frame.get_column("name_key").null_count() > frame.get_column("name").null_count():
        frame = frame.with_columns(pl.col("name_key").fill_null(name_key_expr("name")))
    # validity flags from etl.normalise; re-derived where absent (records read back from the store)
    for flag in ("phone_valid", "email_valid"):
        if flag not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Boolean).alias(flag))
    unknown = frame.filter(pl.col("phone").is_not_null() & pl.col("phone_valid").is_null()).get_column("phone")
    if unknown.len():
        valid = phone_lookup(unknown, config.phone_region).select(
            pl.col("raw").alias("phone"), pl.col("valid").alias("__pv")
        )
        frame = frame.join(valid, on="phone", how="left", maintain_order="left").with_columns(
            pl.coalesce("phone_valid", "__pv").alias("phone_valid")
        )
    if frame.get_column("email_valid").null_count() > frame.get_column("email").null_count():
        frame = frame.with_columns(pl.col("email_valid").fill_null(email_valid_expr("email")))
    keep = [*RECORD_COLUMNS, "phone_valid", "email_valid", "name_key"]
    frame = frame.select(keep).with_columns(
        pl.col("interaction_id").cast(pl.String),
        pl.col("occurred_at").cast(_TS) if frame.schema["occurred_at"] != _TS else pl.col("occurred_at"),
        pl.col("birth_date").cast(pl.Date, strict=False),
    )
    if frame.get_column("interaction_id").null_count():
        raise EtlError("identity: some records have no interaction_id; quarantine them before identity resolution")
    # rec = position of the record in interaction-id order (the frame itself is not reordered: cheaper)
    order = frame.get_column("interaction_id").arg_sort()
    sorted_ids = frame.get_column("interaction_id").gather(order)
    dup = sorted_ids == sorted_ids.shift(1)
    if dup.any():
        first = sorted_ids.filter(dup).head(3).to_list()
        raise EtlError(f"identity: interaction ids must be unique in a run; duplicated: {first} (dedupe the batch)")
    rec = np.empty(frame.height, dtype=np.int64)
    rec[order.to_numpy()] = np.arange(frame.height, dtype=np.int64)
    return frame.with_columns(pl.Series("rec", rec))


# ------------------------------------------------------------------------------------------------ full run


def resolve(
    records: pl.LazyFrame | pl.DataFrame,
    *,
    previous: pl.LazyFrame | pl.DataFrame | None,
    overrides: Sequence[Override] = (),
    config: IdentityConfig | None = None,
) -> IdentityResult:
    """Resolve every record into a profile (full run). See the module docstring for inputs and outputs."""
    config = config or IdentityConfig()
    frame = records.collect() if isinstance(records, pl.LazyFrame) else records
    prev = None
    if previous is not None:
        prev = previous.collect() if isinstance(previous, pl.LazyFrame) else previous
    return _resolve(frame, prev, overrides, config)


def _resolve(
    frame: pl.DataFrame,
    previous: pl.DataFrame | None,
    overrides: Sequence[Override],
    config: IdentityConfig,
    *,
    incomplete: pl.DataFrame | None = None,
    reserved: set[str] | None = None,
) -> IdentityResult:
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    cpu = time.process_time()

    def lap(name: str) -> None:
        nonlocal clock, cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        timings[name] = round(now - clock, 4)
        timings[f"{name}_cpu"] = round(now_cpu - cpu, 4)
        clock, cpu = now, now_cpu

    recs = prepare_records(frame, config)
    n = recs.height
    lap("prepare")
    rec_of = recs.select("interaction_id", "rec")
    edges = pl.concat([identifier_edges(recs, config), split_edges(overrides, rec_of)])
    edges, values = encode_values(edges)
    if incomplete is not None and not incomplete.is_empty():
        inc = values.join(
            incomplete.select(pl.col("id_type").cast(ID_TYPE), "value"), on=["id_type", "value"], how="semi"
        ).get_column("vid")
        edges = edges.with_columns(
            pl.when(pl.col("vid").is_in(inc.implode()) & (pl.col("status") == OK))
            .then(pl.lit(INCOMPLETE, dtype=STATUS))
            .otherwise("status")
            .alias("status")
        )
    edges = apply_frequency_caps(edges, config)
    lap("edges")
    linking = link(n, edges, config, extra_limits={SPLIT_TYPE: 1})
    edges, labels = linking.edges, linking.labels
    lap("link")

    # fuzzy: unanchored components (no limited identifier) to their best match
    anchored_comp = np.zeros(n, dtype=bool)
    anchor_recs = (
        edges.filter((pl.col("status") == OK) & pl.col("id_type").is_in([*config.limits, SPLIT_TYPE]))
        .get_column("rec")
        .to_numpy()
    )
    anchored_comp[labels[anchor_recs]] = True
    anchored = anchored_comp[labels]
    by_value = shared_value_links(
        recs.select("rec", "name_key"),
        edges.filter(pl.col("status") == CONFLICT),
        labels,
        anchored,
        config.fuzzy.threshold,
    )
    fuzzy = fuzzy_links(
        recs.select("rec", "name_key", "birth_date", "postcode", "address"), labels, anchored, config.fuzzy
    )
    # at most one outgoing link per unanchored component (a name on a shared value first)
    fuzzy = pl.concat([by_value, fuzzy])
    fuzzy = (
        fuzzy.with_columns(pl.Series("__comp", labels[fuzzy.get_column("rec").to_numpy()]))
        .unique(subset="__comp", keep="first", maintain_order=True)
        .drop("__comp")
        .sort("rec")
    )
    lap("fuzzy")
    joins = join_pairs(overrides, rec_of)
    pairs = pl.concat([fuzzy.select("rec", "matched_rec"), joins.select("rec", "matched_rec")])
    if not pairs.is_empty():
        a = labels[pairs.get_column("rec").to_numpy()]
        b = labels[pairs.get_column("matched_rec").to_numpy()]
        idx = np.arange(len(a), dtype=np.int64)
        merged = components(n, np.concatenate([a, b]), np.concatenate([idx, idx]))
        labels = merged[labels]
    lap("merge")

    # stable ids
    rec_arr = recs.get_column("rec").to_numpy()
    row_of_rec = np.empty(n, dtype=np.int64)
    row_of_rec[rec_arr] = np.arange(n, dtype=np.int64)
    iid_by_rec = recs.get_column("interaction_id").gather(row_of_rec)
    base = recs.select("rec", "interaction_id", "occurred_at").with_columns(pl.Series("cluster", labels[rec_arr]))
    if previous is not None and not previous.is_empty():
        base = base.join(
            previous.select(pl.col("interaction_id").cast(pl.String), pl.col("profile_id").alias("previous_id")),
            on="interaction_id",
            how="left",
            maintain_order="left",
        )
    else:
        base = base.with_columns(pl.lit(None, dtype=pl.String).alias("previous_id"))
    ids = assign_ids(base, reserved)
    position = np.full(n, -1, dtype=np.int64)
    position[ids.clusters.get_column("cluster").to_numpy()] = np.arange(ids.clusters.height, dtype=np.int64)
    profile_of = ids.clusters.get_column("profile_id").gather(pl.Series(position[labels]))
    assigned = pl.DataFrame({"interaction_id": iid_by_rec, "profile_id": profile_of})  # in rec order
    lap("ids")

    links = _links(assigned, edges, values, fuzzy, joins, config.strength, _seen_order(recs))
    lap("links")
    identifiers = _identifiers(recs, row_of_rec, assigned, labels, edges, values)
    lap("identifiers")

    guarded = (
        edges.filter(pl.col("status") != OK).group_by("status").agg(pl.col("vid").n_unique().alias("n")).sort("status")
    )
    profiles = ids.clusters.get_column("profile_id")
    stats = IdentityStats(
        records=n,
        profiles=profiles.len(),
        created=ids.created,
        merged=ids.merged,
        split=ids.split,
        kept=ids.kept,
        conflicted_components=linking.conflicted_components,
        fuzzy_links=fuzzy.height,
        override_joins=joins.height,
        guarded_values={
            str(k): int(v) for k, v in zip(guarded.get_column("status"), guarded.get_column("n"), strict=True)
        },
        timings=timings,
    )
    previous_ids = base.get_column("previous_id").drop_nulls().unique()
    replaced = pl.concat([profiles, previous_ids]).unique().sort().to_list()
    return IdentityResult(
        assignments=assigned.select("interaction_id", "profile_id"),
        links=links,
        identifiers=identifiers,
        stats=stats,
        retired_profile_ids=ids.retired,
        profiles_replaced=replaced,
    )


# ------------------------------------------------------------------------------------------------ evidence

_IGNORED = pl.List(pl.Struct({"id_type": pl.String, "reason": pl.String}))


def _seen_order(recs: pl.DataFrame) -> np.ndarray:
    """Each record's place (indexed by ``rec``) in the order the records were seen: occurred_at, then rec."""
    order = recs.select("rec", "occurred_at").sort("occurred_at", "rec", nulls_last=True).get_column("rec")
    seen = np.empty(order.len(), dtype=np.int64)
    seen[order.to_numpy()] = np.arange(order.len(), dtype=np.int64)
    return seen


def _links(
    assigned: pl.DataFrame,
    edges: pl.DataFrame,
    values: pl.DataFrame,
    fuzzy: pl.DataFrame,
    joins: pl.DataFrame,
    strength: Sequence[str],
    seen: np.ndarray,
) -> pl.DataFrame:
    """One ``identity_links`` row per record: the rule that joined it, the identifier or score, the peer record.

    ``assigned``: ``interaction_id, profile_id`` in rec order; ``seen``: each record's place in time order
    (:func:`_seen_order`). For a shared identifier the peer is the first record seen holding the same value, or the
    second for the first itself — so a newer record sharing a value leaves the stored records' evidence as it is;
    among several shared values the strongest type wins, then the earliest peer. ``detail`` (JSON): ``shared`` (every type the record shares with
    its profile), ``ignored`` (its values not used, with the guard that stopped them), ``fuzzy`` (name similarity
    and supporting attributes) and ``override_id``.
    """
    n = assigned.height
    used = edges.filter(pl.col("status") == OK).select("rec", "vid", "rank")
    u_vid = used.get_column("vid").to_numpy()
    if len(u_vid) > 1 and not np.all(u_vid[1:] >= u_vid[:-1]):
        used = used.sort("vid")
        u_vid = used.get_column("vid").to_numpy()
    u_rec = used.get_column("rec").to_numpy()
    u_rank = used.get_column("rank").to_numpy().astype(np.int64)
    key = np.full(n, -1, dtype=np.int64)
    mask = np.zeros(n, dtype=np.int64)
    shift = np.int64(1 << 40)
    big = np.iinfo(np.int64).max
    if len(u_vid):
        # edges are sorted by value: each value's records are one run; its first and second record seen are peers
        starts = np.flatnonzero(np.r_[True, u_vid[1:] != u_vid[:-1]])
        sizes = np.diff(np.r_[starts, len(u_vid)])
        when = seen[u_rec]
        first = np.repeat(np.minimum.reduceat(when, starts), sizes)
        second = np.repeat(np.minimum.reduceat(np.where(when == first, big, when), starts), sizes)
        linking = second != big
        peer = np.where(when == first, second, first)  # as a place in time order
        # strongest shared type per record, then its earliest peer: the minimum of (rank, peer) in one integer
        packed = (u_rank + 1) * shift + np.where(linking, peer, 0)
        best_key = np.full(n, big, dtype=np.int64)
        np.minimum.at(best_key, u_rec[linking], packed[linking])
        np.bitwise_or.at(mask, u_rec[linking], np.left_shift(np.int64(1), u_rank[linking] + 1))
        key = np.where(best_key == big, -1, best_key)
    has = key >= 0
    rank = np.where(has, key // shift - 1, 99)
    rec_at = np.empty(n, dtype=np.int64)
    rec_at[seen] = np.arange(n, dtype=np.int64)
    matched = np.where(has, rec_at[np.where(has, key % shift, 0)], -1)
    strength = list(strength)  # rank r is strength[r]; rank -1 is the virtual split type
    rule_names = ["single_record", "shared_identifier", "override_split", "override_join"]
    rule_names += sorted(set(fuzzy.get_column("rule").to_list()))
    rule = np.where(has, np.where(rank == -1, 2, 1), 0)
    special = np.zeros(n, dtype=bool)
    score = np.full(n, np.nan)
    override = np.full(n, -1, dtype=np.int64)
    # manual joins, then fuzzy links, replace the shared-identifier evidence of their records (joins win)
    if not fuzzy.is_empty():
        r = fuzzy.get_column("rec").to_numpy()
        matched[r] = fuzzy.get_column("matched_rec").to_numpy()
        rule[r] = fuzzy.get_column("rule").replace_strict({v: i for i, v in enumerate(rule_names)}).to_numpy()
        score[r] = fuzzy.get_column("score").to_numpy()
        special[r] = True
    if not joins.is_empty():
        r = joins.get_column("rec").to_numpy()
        matched[r] = joins.get_column("matched_rec").to_numpy()
        rule[r] = 3
        score[r] = np.nan
        override[r] = joins.get_column("override_id").to_numpy()
        special[r] = True
    out = pl.DataFrame(
        {
            "rank": rank,
            "rule_code": rule,
            "special": special,
            "matched": matched,
            "score": score,
            "mask": mask,
            "override_id": override,
        }
    )
    # split side: the override id is the first part of the virtual value "<id>:out|stay"
    split_recs = np.flatnonzero(rank == -1)
    if len(split_recs):
        split_vals = (
            used.filter(pl.col("rank") == -1)
            .join(values.select("vid", "value"), on="vid")
            .group_by("rec")
            .agg(pl.col("value").first().str.split(":").list.first().cast(pl.Int64, strict=False).alias("oid"))
        )
        override[split_vals.get_column("rec").to_numpy()] = split_vals.get_column("oid").fill_null(-1).to_numpy()
        out = out.with_columns(pl.Series("override_id", override))
    shared_names = {m: [strength[i] for i in range(len(strength)) if m & (1 << (i + 1))] for m in set(mask.tolist())}
    ignored = (
        edges.filter((pl.col("status") != OK) & (pl.col("id_type") != SPLIT_TYPE))
        .select(
            "rec",
            pl.struct(pl.col("id_type").cast(pl.String), pl.col("status").cast(pl.String).alias("reason")).alias(
                "ignored"
            ),
        )
        .sort("rec", "ignored")
        .group_by("rec", maintain_order=True)
        .agg("ignored")
    )
    fuzzy_detail = fuzzy.select(
        "rec",
        pl.struct(
            pl.col("score").round(4).alias("name"),
            "birth_date",
            "postcode",
            pl.col("address").round(4).alias("address"),
        ).alias("fuzzy"),
    )
    detail = _details(n, mask, shared_names, ignored, fuzzy_detail, override)
    iids = assigned.get_column("interaction_id")
    matched_iid = iids.gather(pl.Series(np.where(matched >= 0, matched, 0))).zip_with(
        pl.Series(matched >= 0), pl.Series([None] * n, dtype=pl.String)
    )
    rank_type = pl.Series([None, *strength], dtype=pl.String)
    return out.select(
        pl.Series("interaction_id", iids),
        assigned.get_column("profile_id"),
        pl.lit(pl.Series(rule_names, dtype=pl.String)).gather(pl.col("rule_code")).alias("rule"),
        pl.when(~pl.col("special") & (pl.col("rank") >= 0) & (pl.col("rank") < len(strength)))
        .then(pl.lit(rank_type).gather((pl.col("rank") + 1).clip(0, len(strength))))
        .otherwise(None)
        .alias("id_type"),
        pl.Series("matched_interaction_id", matched_iid),
        pl.col("score").fill_nan(None),
        detail.alias("detail"),
    )


def _details(
    n: int,
    mask: np.ndarray,
    shared_names: dict[int, list[str]],
    ignored: pl.DataFrame,
    fuzzy_detail: pl.DataFrame,
    override: np.ndarray,
) -> pl.Series:
    """The ``detail`` JSON text per record: built once per distinct shared-type set, individually only for the
    few records with ignored values, a fuzzy link or an override."""
    plain = pl.DataFrame(
        {"mask": list(shared_names), "json": [json.dumps({"shared": v}) for v in shared_names.values()]},
        schema={"mask": pl.Int64, "json": pl.String},
    )
    out = pl.DataFrame({"mask": mask}).join(plain, on="mask", how="left", maintain_order="left").get_column("json")
    special = np.zeros(n, dtype=bool)
    special[ignored.get_column("rec").to_numpy()] = True
    special[fuzzy_detail.get_column("rec").to_numpy()] = True
    special[override >= 0] = True
    idx = np.flatnonzero(special)
    if len(idx) == 0:
        return out
    names = pl.Series([shared_names[m] for m in mask[idx].tolist()], dtype=pl.List(pl.String))
    rows = (
        pl.DataFrame({"rec": idx, "shared": names, "override_id": override[idx]})
        .join(ignored, on="rec", how="left", maintain_order="left")
        .join(fuzzy_detail, on="rec", how="left", maintain_order="left")
        .select(
            pl.struct(
                "shared",
                pl.col("ignored").fill_null(pl.lit([], dtype=_IGNORED)),
                "fuzzy",
                pl.when(pl.col("override_id") >= 0).then(pl.col("override_id")).otherwise(None).alias("override_id"),
            ).struct.json_encode()
        )
        .to_series()
    )
    return out.scatter(idx, rows)


def _bits(values: pl.Series) -> tuple[pl.Series, list[str]]:
    """Each value as one bit of an Int64 (few distinct values: sources, channels), and the value of each bit."""
    names = sorted(values.drop_nulls().unique().to_list())[:63]
    codes = pl.DataFrame(
        {"v": names, "bit": [1 << i for i in range(len(names))]}, schema={"v": pl.String, "bit": pl.Int64}
    )
    bits = values.alias("v").to_frame().join(codes, on="v", how="left", maintain_order="left").get_column("bit")
    return bits.fill_null(0), names


def _unbits(masks: pl.Series, names: list[str]) -> pl.Series:
    """Bit masks back to sorted lists of values (decoded once per distinct mask)."""
    distinct = masks.unique().to_list()
    table = pl.DataFrame(
        {
            "m": distinct,
            "values": [[name for i, name in enumerate(names) if m & (1 << i)] for m in distinct],
        },
        schema={"m": pl.Int64, "values": pl.List(pl.String)},
    )
    return masks.alias("m").to_frame().join(table, on="m", how="left", maintain_order="left").get_column("values")


def _identifiers(
    recs: pl.DataFrame,
    row_of_rec: np.ndarray,
    assigned: pl.DataFrame,
    labels: np.ndarray,
    edges: pl.DataFrame,
    values: pl.DataFrame,
) -> pl.DataFrame:
    """``identifiers`` rows: each usable identifier value of each profile, where and when it was seen.

    Invalid and placeholder values are left out; shared values (a kiosk device) are listed on every profile
    that used them, so looking the value up shows all of them.
    """
    usable = edges.filter(
        pl.col("status").is_in([OK, SHARED, CONFLICT, INCOMPLETE]) & (pl.col("id_type") != SPLIT_TYPE)
    ).select("rec", "vid")
    rec_idx = usable.get_column("rec").to_numpy()
    rows = pl.Series(row_of_rec[rec_idx])
    source_bits, source_names = _bits(recs.get_column("source"))
    channel_bits, channel_names = _bits(recs.get_column("channel"))
    n = len(labels)
    # one integer key per (value, cluster); edges come sorted by value, so the keys mostly are too
    key = usable.get_column("vid").to_numpy() * n + labels[rec_idx]
    grouped = (
        pl.DataFrame(
            {
                "key": key,
                "sb": source_bits.gather(rows),
                "cb": channel_bits.gather(rows),
                "occurred_at": recs.get_column("occurred_at").gather(rows),
            }
        )
        .sort("key")
        .group_by("key", maintain_order=True)
        .agg(
            pl.col("sb").bitwise_or(),
            pl.col("cb").bitwise_or(),
            pl.len().cast(pl.Int64).alias("records"),
            pl.col("occurred_at").min().alias("first_seen"),
            pl.col("occurred_at").max().alias("last_seen"),
        )
    )
    key = grouped.get_column("key").to_numpy()
    vid, cluster = pl.Series(key // n), pl.Series(key % n)
    return pl.DataFrame(
        {
            "profile_id": assigned.get_column("profile_id").gather(cluster),  # record `cluster` is in the cluster
            "id_type": values.get_column("id_type").gather(vid).cast(pl.String),  # values are sorted by vid
            "value": values.get_column("value").gather(vid),
            "sources": _unbits(grouped.get_column("sb"), source_names),
            "channels": _unbits(grouped.get_column("cb"), channel_names),
            "records": grouped.get_column("records"),
            "first_seen": grouped.get_column("first_seen"),
            "last_seen": grouped.get_column("last_seen"),
        }
    ).cast(IDENTIFIER_SCHEMA)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ incremental


class IdentityStore(Protocol):
    """What the incremental run reads from the store (three indexed lookups)."""

    def profiles_with_values(self, keys: pl.DataFrame) -> pl.DataFrame:
        """``id_type, value, profile_id`` of every profile holding one of ``keys`` (``id_type, value``)."""
        ...

    def block_members(self, birth_dates: Sequence[object], postcodes: Sequence[str]) -> pl.DataFrame:
        """``profile_id, name, birth_date, postcode`` of every record with one of these birth dates or postcodes
        (the fuzzy blocks the new records fall into)."""
        ...

    def records_of_profiles(self, profile_ids: Sequence[str]) -> pl.DataFrame:
        """Every record of these profiles: ``profile_id`` plus the identity columns (:data:`RECORD_COLUMNS`)."""
        ...

    def profiles_of_records(self, interaction_ids: Sequence[str]) -> list[str]:
        """Profiles of these records (the records named by active overrides)."""
        ...


def resolve_incremental(
    new_records: pl.LazyFrame | pl.DataFrame,
    *,
    store: IdentityStore,
    overrides: Sequence[Override] = (),
    config: IdentityConfig | None = None,
) -> IdentityResult:
    """Resolve a small batch of new records against the store, touching only the profiles they reach.

    Records whose interaction id is already in the store are re-resolved with their new content.
    """
    config = config or IdentityConfig()
    new = new_records.collect() if isinstance(new_records, pl.LazyFrame) else new_records
    new_prep = prepare_records(new, config)
    new_edges = identifier_edges(new_prep, config).filter(pl.col("status") == OK)
    touched = set(store.profiles_with_values(new_edges.select("id_type", "value").unique()).get_column("profile_id"))
    if config.fuzzy.enabled:
        candidates = new_prep.filter(pl.col("name_key").is_not_null())
        bds = (
            candidates.get_column("birth_date").drop_nulls().unique().to_list()
            if "birth_date" in config.fuzzy.blocking_keys
            else []
        )
        pcs = (
            candidates.get_column("postcode").drop_nulls().unique().to_list()
            if "postcode" in config.fuzzy.blocking_keys
            else []
        )
        if bds or pcs:
            touched |= fuzzy_reach(candidates, store.block_members(bds, pcs), config.fuzzy)
    touched |= set(store.profiles_of_records(new_prep.get_column("interaction_id").to_list()))
    named = override_records(overrides)
    existing = store.records_of_profiles(sorted(touched)) if touched else pl.DataFrame()
    if named and not existing.is_empty():
        # overrides naming records of touched profiles: load every profile they name, so both sides are present
        in_run = set(existing.get_column("interaction_id").to_list())
        relevant = [o for o in overrides if in_run.intersection((*o.interaction_ids, *o.target_interaction_ids))]
        extra = set(store.profiles_of_records(override_records(relevant))) - touched
        if extra:
            touched |= extra
            existing = store.records_of_profiles(sorted(touched))
    previous = None
    frames = [new.select([c for c in new.columns if c in (*RECORD_COLUMNS, "phone_valid", "email_valid", "name_key")])]
    if not existing.is_empty():
        previous = existing.select("interaction_id", "profile_id")
        old = existing.join(new.select("interaction_id"), on="interaction_id", how="anti")
        # validity flags and name keys the store gives are kept (not derived again for every stored record)
        frames.append(
            old.select([c for c in old.columns if c in (*RECORD_COLUMNS, "phone_valid", "email_valid", "name_key")])
        )
    records = pl.concat(_align(frames), how="diagonal_relaxed")
    # values also held by profiles outside the run did not link before: keep them out of linking
    run_edges = identifier_edges(prepare_records(records, config), config).filter(pl.col("status") == OK)
    keys = run_edges.select("id_type", "value").unique()
    holders = store.profiles_with_values(keys)
    incomplete = (
        holders.filter(~pl.col("profile_id").is_in(sorted(touched))).select("id_type", "value").unique()
        if not holders.is_empty()
        else None
    )
    return _resolve(records, previous, overrides, config, incomplete=incomplete)


def fuzzy_reach(new: pl.DataFrame, members: pl.DataFrame, config: FuzzyConfig) -> set[str]:
    """The stored profiles a new record could be fuzzily linked with (etl.identity_fuzzy): those with a record in
    the same birth-date or postcode block whose name key is at least ``min(threshold, weak_threshold)`` similar to
    the new record's — against every other member of the block both fuzzy rules fail. A block of more than half
    ``max_block_size`` profiles is taken whole, so the run sees the block as large as a full run does (and skips
    it alike). Before, every profile of every block was re-resolved: ~60,000 profiles for 10,000 new records."""
    floor = min(config.threshold, config.weak_threshold)
    members = members.with_columns(name_key_expr("name").alias("name_key"))
    reach: set[str] = set()
    for key in ("birth_date", "postcode"):
        if key not in config.blocking_keys or key not in new.columns:
            continue
        block = members.filter(pl.col(key).is_not_null() & pl.col("profile_id").is_not_null())
        crowded = (
            block.group_by(key)
            .agg(pl.col("profile_id").n_unique().alias("n"))
            .filter(pl.col("n") > config.max_block_size // 2)
        )
        reach.update(block.join(crowded, on=key, how="semi").get_column("profile_id").to_list())
        seekers = new.filter(pl.col(key).is_not_null() & pl.col("name_key").is_not_null()).select(
            pl.col(key).cast(block.schema[key]), pl.col("name_key").alias("new_key")
        )
        pairs = seekers.unique().join(
            block.filter(pl.col("name_key").is_not_null()).select(key, "name_key", "profile_id").unique(), on=key
        )
        if pairs.height:
            similarity = cpdist(
                pairs.get_column("new_key").to_list(),
                pairs.get_column("name_key").to_list(),
                scorer=fuzz.ratio,
                workers=1,
            )
            reach.update(pairs.filter(pl.Series(similarity / 100.0 >= floor)).get_column("profile_id").to_list())
    return reach


def _align(frames: list[pl.DataFrame]) -> list[pl.DataFrame]:
    """Cast shared columns to one dtype so the frames concatenate."""
    target = {"occurred_at": _TS, "birth_date": pl.Date}
    out = []
    for f in frames:
        casts = [pl.col(c).cast(t, strict=False) for c, t in target.items() if c in f.columns]
        casts += [
            pl.col(c).cast(pl.String)
            for c in (*STRONG_IDENTIFIERS, "name", "address", "postcode", "source", "channel")
            if c in f.columns
        ]
        out.append(f.with_columns(casts))
    return out


class FrameIdentityStore:
    """An :class:`IdentityStore` over in-memory frames (tests, benchmarks): the records with their profile ids."""

    def __init__(self, records: pl.DataFrame, assignments: pl.DataFrame, config: IdentityConfig | None = None) -> None:
        config = config or IdentityConfig()
        self._records = records.join(assignments, on="interaction_id")
        prep = prepare_records(records, config)
        edges = identifier_edges(prep, config).filter(pl.col("status") == OK)
        self._values = (
            edges.join(prep.select("rec", "interaction_id"), on="rec")
            .join(assignments, on="interaction_id")
            .select("id_type", "value", "profile_id")
            .unique()
        )

    def profiles_with_values(self, keys: pl.DataFrame) -> pl.DataFrame:
        return self._values.join(keys, on=["id_type", "value"], how="semi")

    def block_members(self, birth_dates: Sequence[object], postcodes: Sequence[str]) -> pl.DataFrame:
        hit = self._records.filter(
            pl.col("birth_date").is_in(list(birth_dates)) | pl.col("postcode").is_in(list(postcodes))
        )
        return hit.select(BLOCK_MEMBER_COLUMNS)

    def records_of_profiles(self, profile_ids: Sequence[str]) -> pl.DataFrame:
        return self._records.filter(pl.col("profile_id").is_in(list(profile_ids)))

    def profiles_of_records(self, interaction_ids: Sequence[str]) -> list[str]:
        hit = self._records.filter(pl.col("interaction_id").is_in(list(interaction_ids)))
        return hit.get_column("profile_id").unique().to_list()


def _chunks(values: Sequence[object], size: int = 900) -> Iterable[list[object]]:
    for i in range(0, len(values), size):
        yield list(values[i : i + size])


class SqlIdentityStore:
    """:class:`IdentityStore` over the store's ``identifiers`` and ``interactions`` tables (session passed in).

    Lookups use the indexes ``ix_identifiers_type_value``, ``ix_interactions_profile_occurred``, the primary key
    of ``interactions`` and the partial indexes on ``interactions.birth_date`` / ``interactions.postcode``.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def profiles_with_values(self, keys: pl.DataFrame) -> pl.DataFrame:
        rows: list[tuple[str, str, str]] = []
        for id_type, part in keys.group_by("id_type"):
            values = part.get_column("value").to_list()
            for chunk in _chunks(values):
                stmt = select(Identifier.id_type, Identifier.value, Identifier.profile_id).where(
                    Identifier.id_type == id_type[0], Identifier.value.in_(chunk)
                )
                rows.extend(tuple(row) for row in self.session.execute(stmt))
        return pl.DataFrame(
            rows, schema={"id_type": pl.String, "value": pl.String, "profile_id": pl.String}, orient="row"
        )

    def block_members(self, birth_dates: Sequence[object], postcodes: Sequence[str]) -> pl.DataFrame:
        cols = [getattr(Interaction, c) for c in BLOCK_MEMBER_COLUMNS]
        rows: list[tuple[object, ...]] = []
        for column, values in ((Interaction.birth_date, birth_dates), (Interaction.postcode, postcodes)):
            for chunk in _chunks(list(values)):
                rows.extend(tuple(row) for row in self.session.execute(select(*cols).where(column.in_(chunk))))
        return pl.DataFrame(rows, schema=BLOCK_MEMBER_SCHEMA, orient="row")

    def records_of_profiles(self, profile_ids: Sequence[str]) -> pl.DataFrame:
        cols = [getattr(Interaction, c) for c in RECORD_COLUMNS] + [Interaction.profile_id]
        rows: list[tuple[object, ...]] = []
        for chunk in _chunks(list(profile_ids)):
            stmt: Select[tuple[object, ...]] = select(*cols).where(Interaction.profile_id.in_(chunk))
            rows.extend(tuple(row) for row in self.session.execute(stmt))
        schema = {c: pl.String for c in (*RECORD_COLUMNS, "profile_id")}
        schema["occurred_at"] = _TS  # type: ignore[assignment]
        schema["birth_date"] = pl.Date  # type: ignore[assignment]
        return pl.DataFrame(rows, schema=schema, orient="row")

    def profiles_of_records(self, interaction_ids: Sequence[str]) -> list[str]:
        found: set[str] = set()
        for chunk in _chunks(list(interaction_ids)):
            stmt = select(Interaction.profile_id).where(Interaction.interaction_id.in_(chunk)).distinct()
            found.update(p for p in self.session.scalars(stmt) if p)
        return sorted(found)


__all__ = [
    "FrameIdentityStore",
    "IdentityConfig",
    "IdentityResult",
    "IdentityStats",
    "IdentityStore",
    "Override",
    "SqlIdentityStore",
    "prepare_records",
    "resolve",
    "resolve_incremental",
]
