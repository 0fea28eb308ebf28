"""The record–identifier graph: guarded edges, connected components, and conflict splits at the weakest links.

Records are integer-coded ``rec`` = 0..n-1 (sorted by interaction id, so every result is independent of the
input order); identifier values are integer-coded ``vid``. Components are computed with
``scipy.sparse.csgraph.connected_components`` on the bipartite record–value graph: no Python loop per record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cx.schema import STRONG_IDENTIFIERS
from etl.identity_config import IdentityConfig
from etl.normalise import email_valid_expr

#: Virtual identifier type carrying manual split overrides (strongest of all, limit one per profile).
SPLIT_TYPE: Final = "override_split"
SPLIT_RANK: Final = -1

#: Edge statuses: ``ok`` links; the others are kept as evidence of why a value did not link.
OK, INVALID, PLACEHOLDER, SHARED, CONFLICT, INCOMPLETE = (
    "ok",
    "invalid",
    "placeholder",
    "shared",
    "conflict",
    "incomplete",
)
ID_TYPE: Final = pl.Enum([SPLIT_TYPE, *STRONG_IDENTIFIERS])
STATUS: Final = pl.Enum([OK, INVALID, PLACEHOLDER, SHARED, CONFLICT, INCOMPLETE])

EDGE_SCHEMA: Final = {"rec": pl.Int64, "id_type": ID_TYPE, "value": pl.String, "status": STATUS, "rank": pl.Int8}


def identifier_edges(records: pl.DataFrame, config: IdentityConfig) -> pl.DataFrame:
    """Long table ``rec, id_type, value, status, rank`` of every non-null strong identifier of every record.

    ``status``: ``invalid`` (phone not valid / e-mail not well-formed), ``placeholder`` (blocklisted), else ``ok``.
    ``rank``: strength of the type (0 = strongest, see ``IdentityConfig.strength``).
    """
    blocked = config.normalised_blocklist()
    # every-type placeholders, in the spellings that occur (the check is then a hash lookup, no lower-casing)
    any_blocked = sorted({f(v) for v in config.blocklist_any for f in (str.lower, str.upper, str.title, str)})
    parts = []
    for rank, id_type in enumerate(config.strength):
        if id_type not in records.columns:
            continue
        value = pl.col(id_type)
        if id_type == "phone":
            valid = (
                pl.col("phone_valid").fill_null(False)
                if "phone_valid" in records.columns
                else value.str.contains(r"^\+[1-9][0-9]{6,14}$")
            )
        elif id_type == "email":
            valid = (
                pl.col("email_valid").fill_null(False) if "email_valid" in records.columns else email_valid_expr(value)
            )
        else:
            valid = pl.lit(True)
        placeholder = value.is_in(blocked.get(id_type, []) + any_blocked)
        parts.append(
            records.lazy()
            .filter(value.is_not_null())
            .select(
                pl.col("rec"),
                pl.lit(id_type, dtype=ID_TYPE).alias("id_type"),
                value.alias("value"),
                pl.when(~valid)
                .then(pl.lit(INVALID, dtype=STATUS))
                .when(placeholder)
                .then(pl.lit(PLACEHOLDER, dtype=STATUS))
                .otherwise(pl.lit(OK, dtype=STATUS))
                .alias("status"),
                pl.lit(rank, dtype=pl.Int8).alias("rank"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=EDGE_SCHEMA)
    return pl.concat(parts).collect()


def encode_values(edges: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Integer-code each distinct (id_type, value) as ``vid``.

    Returns the edges without the value text (``rec, vid, id_type, rank, status``, sorted by ``vid``) and the
    value table ``vid, id_type, value``. Codes come from a 64-bit hash of the value, sorted; equal hashes of
    different values (checked on adjacent rows) fall back to exact codes, so a collision can never link values.
    """
    if edges.is_empty():
        empty = edges.with_columns(pl.lit(None, dtype=pl.Int64).alias("vid"))
        return empty.select("rec", "vid", "id_type", "rank", "status"), empty.select("vid", "id_type", "value")
    type_hash = pl.col("id_type").to_physical().cast(pl.UInt64).hash(seed=11)
    hashed = edges.with_columns(pl.col("value").hash(seed=7).xor(type_hash).alias("__h")).sort("__h")
    same_hash = pl.col("__h") == pl.col("__h").shift()
    differs = (pl.col("value") != pl.col("value").shift()) | (pl.col("id_type") != pl.col("id_type").shift())
    if hashed.select((same_hash & differs).any()).item():  # a 64-bit collision: exact codes instead
        hashed = hashed.sort("id_type", "value")
        new = differs
    else:
        new = ~same_hash
    coded = hashed.with_columns(new.fill_null(True).alias("__new")).with_columns(
        (pl.col("__new").cum_sum() - 1).cast(pl.Int64).alias("vid")
    )
    values = coded.filter("__new").select("vid", "id_type", "value")
    return coded.select("rec", "vid", "id_type", "rank", "status"), values


def _per_record(n_recs: int, edges: pl.DataFrame, id_type: str) -> np.ndarray:
    """``vid`` of each record's value of ``id_type`` (a record holds at most one value per type), -1 if none."""
    part = edges.filter(pl.col("id_type") == id_type)
    out = np.full(n_recs, -1, dtype=np.int64)
    out[part.get_column("rec").to_numpy()] = part.get_column("vid").to_numpy()
    return out


def apply_frequency_caps(edges: pl.DataFrame, config: IdentityConfig) -> pl.DataFrame:
    """Mark ``shared`` every ok value seen with more than its type's cap of distinct values of a witness type.

    A store kiosk's device id seen with 60 member ids is shared; so is a switchboard number on many CRM ids.
    Vectorised over the edges sorted by value: per value, the smallest and largest witness code (numpy
    ``reduceat``) single out the few values with two or more witnesses; only those are counted exactly.
    """
    if not config.frequency_caps or edges.is_empty():
        return edges
    ok = edges.filter(pl.col("status") == OK)
    n_recs = int(edges.get_column("rec").max()) + 1
    vids = ok.get_column("vid").to_numpy()
    if len(vids) > 1 and not np.all(vids[1:] >= vids[:-1]):
        ok = ok.sort("vid")
        vids = ok.get_column("vid").to_numpy()
    capped_mask = ok.get_column("id_type").is_in(list(config.frequency_caps)).to_numpy()
    capped = ok.filter(pl.Series(capped_mask)).select("rec", "vid", "id_type")
    if capped.is_empty():
        return edges
    c_vid = capped.get_column("vid").to_numpy()
    c_rec = capped.get_column("rec").to_numpy()
    starts = np.flatnonzero(np.r_[True, c_vid[1:] != c_vid[:-1]])
    sizes = np.diff(np.r_[starts, len(c_vid)])
    caps = pl.DataFrame(
        {"id_type": list(config.frequency_caps), "cap": list(config.frequency_caps.values())},
        schema={"id_type": ID_TYPE, "cap": pl.Int64},
    )
    big = np.iinfo(np.int64).max
    parts = []
    for w_type in config.cap_witnesses:  # one vectorised pass per witness type
        witness = _per_record(n_recs, ok, w_type)[c_rec]
        present = witness >= 0
        low = np.minimum.reduceat(np.where(present, witness, big), starts)
        high = np.maximum.reduceat(witness, starts)
        several = np.repeat((low < high) & (sizes > 1), sizes)  # two or more distinct witnesses on this value
        if not several.any():
            continue
        parts.append(
            capped.filter(pl.Series(several & present))
            .with_columns(pl.Series("w", witness[several & present]))
            .filter(pl.col("id_type") != w_type)
            .group_by("vid", "id_type")
            .agg(pl.col("w").n_unique().alias("n"))
        )
    if not parts:
        return edges
    shared = (
        pl.concat(parts).join(caps, on="id_type").filter(pl.col("n") > pl.col("cap")).get_column("vid").unique()
    ).to_numpy()
    if len(shared) == 0:
        return edges
    flag = np.zeros(int(edges.get_column("vid").max()) + 1, dtype=bool)
    flag[shared] = True
    return edges.with_columns(
        pl.when(pl.Series(flag[edges.get_column("vid").to_numpy()]) & (pl.col("status") == OK))
        .then(pl.lit(SHARED, dtype=STATUS))
        .otherwise(pl.col("status"))
        .alias("status")
    )


def components(n_nodes: int, rec: np.ndarray, vid: np.ndarray) -> np.ndarray:
    """Component label per record node 0..n_nodes-1 of the bipartite graph with edges ``rec -- vid``.

    Labels are the smallest record index of each component (deterministic whatever the edge order).
    """
    if len(rec) == 0:
        return np.arange(n_nodes, dtype=np.int64)
    present = np.zeros(int(vid.max()) + 1, dtype=bool)
    present[vid] = True
    vid_local = (np.cumsum(present) - 1)[vid]  # compact value codes without sorting
    size = n_nodes + int(present.sum())
    graph = coo_matrix(
        (np.ones(len(rec), dtype=np.int8), (rec.astype(np.int64), n_nodes + vid_local.astype(np.int64))),
        shape=(size, size),
    ).tocsr()
    _, labels = connected_components(graph, directed=False)
    labels = labels[:n_nodes]
    first = np.full(labels.max() + 1, n_nodes, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n_nodes, dtype=np.int64))
    return first[labels]


@dataclass(frozen=True)
class Linking:
    """Deterministic linking result: ``labels`` per record, ``edges`` with final status (``ok`` edges link)."""

    labels: np.ndarray
    edges: pl.DataFrame
    conflicted_components: int


def _anchors(edges: pl.DataFrame, limits: dict[str, int]) -> pl.DataFrame:
    """Limited-type values per record (``rec, a_type, a_value, a_rank``): the claims a profile may hold once."""
    return edges.filter((pl.col("status") == OK) & pl.col("id_type").is_in(list(limits))).select(
        "rec", pl.col("id_type").alias("a_type"), pl.col("vid").alias("a_value"), pl.col("rank").alias("a_rank")
    )  # one value per record and type (split sides are deduplicated when built)


def _limits_frame(limits: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"a_type": list(limits), "limit": list(limits.values())}, schema={"a_type": ID_TYPE, "limit": pl.Int64}
    )


def _conflicting(groups_anchors: pl.DataFrame, key: str, limits: pl.DataFrame) -> pl.DataFrame:
    """Keys (components) whose anchors exceed a per-type limit."""
    return (
        groups_anchors.group_by(key, "a_type")
        .agg(pl.col("a_value").n_unique().alias("n"))
        .join(limits, on="a_type")
        .filter(pl.col("n") > pl.col("limit"))
        .select(key)
        .unique()
    )


def link(n: int, edges: pl.DataFrame, config: IdentityConfig, extra_limits: dict[str, int] | None = None) -> Linking:
    """Connected components of the ok edges, then conflicting components split at their weakest links.

    A component is conflicting when it holds more distinct values of a limited type than allowed (two crm_ids).
    Its records are re-linked type by type, strongest first; when the values of the current type would join
    groups holding different claims of a stronger limited type, each of those values that touches a group holding
    a claim is cut (not used at all): the "family phone" between two CRM customers links nobody. Records it
    leaves alone can still be attached by name (:func:`etl.identity_fuzzy.shared_value_links`).
    """
    limits = {**config.limits, **(extra_limits or {})}
    ok = edges.filter(pl.col("status") == OK)
    labels = components(n, ok.get_column("rec").to_numpy(), ok.get_column("vid").to_numpy())
    anchors = _anchors(edges, limits)
    limits_df = _limits_frame(limits)
    anchor_comps = anchors.with_columns(pl.Series("comp", labels[anchors.get_column("rec").to_numpy()]))
    bad = _conflicting(anchor_comps, "comp", limits_df)
    if bad.is_empty():
        return Linking(labels, edges, 0)
    bad_recs = np.flatnonzero(np.isin(labels, bad.get_column("comp").to_numpy()))
    in_bad = np.zeros(n, dtype=bool)
    in_bad[bad_recs] = True
    sub_edges = ok.filter(pl.Series(in_bad[ok.get_column("rec").to_numpy()]))
    sub_anchors = anchors.filter(pl.Series(in_bad[anchors.get_column("rec").to_numpy()]))
    new_labels, cut = _split(bad_recs, sub_edges, sub_anchors, limits_df)
    labels = labels.copy()
    labels[bad_recs] = new_labels
    if not cut.is_empty():
        edges = (
            edges.join(
                cut.with_columns(pl.lit(True).alias("__cut")), on=["rec", "vid"], how="left", maintain_order="left"
            )
            .with_columns(
                pl.when(pl.col("__cut").fill_null(False))
                .then(pl.lit(CONFLICT, dtype=STATUS))
                .otherwise("status")
                .alias("status")
            )
            .drop("__cut")
        )
    return Linking(labels, edges, bad.height)


def _stage_candidates(ge: pl.DataFrame) -> pl.DataFrame:
    """``g -> cand``: groups joined by the values of one stage (cand = smallest group id of the merge)."""
    if ge.is_empty():
        return pl.DataFrame(schema={"g": pl.Int64, "cand": pl.Int64})
    g_nodes = np.unique(ge.get_column("g").to_numpy())
    g_idx = np.searchsorted(g_nodes, ge.get_column("g").to_numpy())
    comp_local = components(len(g_nodes), g_idx, ge.get_column("vid").to_numpy())
    return pl.DataFrame({"g": g_nodes, "cand": g_nodes[comp_local]}, schema={"g": pl.Int64, "cand": pl.Int64})


def _split(
    recs: np.ndarray, edges: pl.DataFrame, anchors: pl.DataFrame, limits: pl.DataFrame
) -> tuple[np.ndarray, pl.DataFrame]:
    """Staged re-linking of the records of conflicting components (see :func:`link`). Returns labels (global
    smallest-record ids) for ``recs`` in order and the cut edges ``rec, vid``."""
    local = pl.DataFrame({"rec": recs.astype(np.int64), "i": np.arange(len(recs), dtype=np.int64)})
    group = recs.astype(np.int64).copy()  # current group of each local record: its smallest record id
    cut_parts: list[pl.DataFrame] = []
    e = edges.join(local, on="rec")
    a = anchors.join(local, on="rec")
    for rank in sorted(e.get_column("rank").unique().to_list()):
        g_of = pl.DataFrame({"i": np.arange(len(recs), dtype=np.int64), "g": group})
        stage = e.filter(pl.col("rank") == rank).join(g_of, on="i")
        ge = stage.select("g", "vid").unique()
        cand = _stage_candidates(ge)
        g_anchor = a.filter(pl.col("a_rank") < rank).join(g_of, on="i").select("g", "a_type", "a_value").unique()
        bad = _conflicting(g_anchor.join(cand, on="g"), "cand", limits)
        if not bad.is_empty():
            anchored_g = g_anchor.select("g").unique()
            in_bad = cand.join(bad, on="cand", how="semi").select("g")
            bad_ge = ge.join(in_bad, on="g", how="semi")
            # every value of a conflicting merge that touches a group holding a claim is ambiguous: cut it
            cut_vids = bad_ge.join(anchored_g, on="g", how="semi").select("vid").unique()
            cut_parts.append(stage.join(cut_vids, on="vid", how="semi").select("rec", "vid"))
            ge = ge.join(cut_vids, on="vid", how="anti")
            cand = _stage_candidates(ge)
        if not cand.is_empty():
            remap = pl.DataFrame({"g": group}).join(cand, on="g", how="left", maintain_order="left")
            group = remap.select(pl.coalesce("cand", "g")).to_series().to_numpy().astype(np.int64)
    cut = pl.concat(cut_parts) if cut_parts else pl.DataFrame(schema={"rec": pl.Int64, "vid": pl.Int64})
    return group, cut.unique()
