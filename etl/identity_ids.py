"""Stable profile ids: clusters keep the ids their records had before; new clusters get deterministic new ids.

Rules (each a vectorised pass over (cluster, previous id) counts, repeated while a split leaves clusters
without an id — a few rounds at most, never a loop per record):

1. A cluster's candidates are the previous profile ids of its records, best first: the *older* profile (its
   earliest record first seen earliest), then the one with more of the cluster's records, then the smaller id.
   So a merge keeps the older id.
2. A previous id claimed by several clusters (a split) goes to the cluster holding most of its records
   (ties: the cluster whose smallest interaction id sorts first); the others try their next candidate.
3. Clusters left without an id get ``p`` + 16 hex digits of a 64-bit polynomial hash of the UTF-8 bytes of the
   cluster's smallest interaction id (vectorised in numpy, independent of library versions): the same data
   always gives the same ids. A collision with an id in use is re-hashed with a counter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

ID_PREFIX = "p"


_MULTIPLIERS = (0x100000001B3,)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def _poly_hash(seeds: pl.Series, multiplier: int, salt: int) -> np.ndarray:
    """Polynomial rolling hash (mod 2**64) of each string's UTF-8 bytes, vectorised over the Arrow buffers."""
    arr = pc.cast(seeds.cast(pl.String).to_arrow(), pa.large_binary())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
    data = data[offsets[0] : offsets[-1]].astype(np.uint64) + np.uint64(1)
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    lengths = ends - starts
    with np.errstate(over="ignore"):
        out = np.full(len(arr), np.uint64(salt) * _MIX, dtype=np.uint64)
    if len(data):
        longest = int(lengths.max())
        powers = np.empty(longest + 1, dtype=np.uint64)
        powers[0] = 1
        with np.errstate(over="ignore"):
            for i in range(1, longest + 1):  # one step per character position, not per record
                powers[i] = powers[i - 1] * np.uint64(multiplier)
            seg = np.repeat(np.arange(len(arr)), lengths)
            exponent = ends[seg] - 1 - np.arange(len(data))
            weighted = data * powers[exponent]
            nonempty = lengths > 0
            sums = np.add.reduceat(weighted, starts[nonempty]) if nonempty.any() else np.zeros(0, np.uint64)
            out[nonempty] = out[nonempty] + sums
            out = out * _MIX + lengths.astype(np.uint64)
            out ^= out >> np.uint64(31)
            out *= _MIX
            out ^= out >> np.uint64(29)
    return out


def new_profile_ids(seeds: pl.Series, attempt: int = 0) -> pl.Series:
    """Deterministic profile ids (``p`` + 16 hex digits) from clusters' smallest interaction ids."""
    if seeds.len() == 0:
        return pl.Series("profile_id", [], dtype=pl.String)
    packed = _poly_hash(seeds, _MULTIPLIERS[0], 1 + attempt).astype(">u8").tobytes().hex()
    digits = pl.Series("profile_id", np.frombuffer(packed.encode("ascii"), dtype="S16")).cast(pl.String)
    return pl.select(pl.concat_str(pl.lit(ID_PREFIX), pl.lit(digits)).alias("profile_id")).to_series()


def new_profile_id(seed: str, attempt: int = 0) -> str:
    """:func:`new_profile_ids` for one seed."""
    return str(new_profile_ids(pl.Series([seed], dtype=pl.String), attempt).item())


@dataclass(frozen=True)
class IdAssignment:
    """``clusters``: ``cluster, profile_id``; counts of what changed against the previous assignment."""

    clusters: pl.DataFrame
    created: int
    merged: int
    split: int
    kept: int
    retired: list[str]


def assign_ids(records: pl.DataFrame, reserved: set[str] | None = None) -> IdAssignment:
    """Profile id per cluster.

    ``records``: ``rec`` (position in interaction-id order), ``cluster`` (the smallest ``rec`` of the cluster),
    ``interaction_id``, ``occurred_at`` and ``previous_id`` (null for new records).
    ``reserved``: ids in use elsewhere that a new id must not take (incremental runs: the untouched profiles).
    """
    reserved = set(reserved or ())
    prev = records.filter(pl.col("previous_id").is_not_null()).select("cluster", "previous_id", "occurred_at")
    # previous ids as integers in their sort order (sorting the distinct ids, not every record)
    names = prev.get_column("previous_id").unique().sort()
    codes = pl.DataFrame({"previous_id": names, "pcode": np.arange(names.len(), dtype=np.int64)})
    prev = prev.join(codes, on="previous_id").drop("previous_id")
    # age of each previous profile = its earliest record in this run
    age = prev.group_by("pcode").agg(pl.col("occurred_at").min().alias("born"))
    cand = (
        prev.group_by("cluster", "pcode")
        .agg(pl.len().alias("n"))
        .join(age, on="pcode")
        .sort(["cluster", "born", "n", "pcode"], descending=[False, False, True, False], nulls_last=True)
    )
    # clusters are labelled by their smallest rec, and recs follow interaction-id order: a smaller label is a
    # cluster whose smallest interaction id sorts first (the tie-break between two parts of a split)
    parts = []
    open_cand = cand
    while not open_cand.is_empty():  # one pass per preference rank, not per record
        first = open_cand.filter(pl.col("cluster").is_first_distinct())  # each cluster's best remaining choice
        winners = (
            first.sort(["pcode", "n", "cluster"], descending=[False, True, False])
            .filter(pl.col("pcode").is_first_distinct())
            .select("cluster", "pcode")
        )
        parts.append(winners)
        open_cand = open_cand.join(winners.select("cluster"), on="cluster", how="anti", maintain_order="left").join(
            winners.select("pcode"), on="pcode", how="anti", maintain_order="left"
        )
    won = pl.concat(parts) if parts else pl.DataFrame(schema={"cluster": pl.Int64, "pcode": pl.Int64})
    assigned = won.select(
        pl.col("cluster").cast(records.schema["cluster"]), names.gather(won.get_column("pcode")).alias("profile_id")
    )
    seeds = records.filter(pl.col("rec") == pl.col("cluster")).select("cluster", pl.col("interaction_id").alias("seed"))
    missing = seeds.join(assigned, on="cluster", how="anti")
    fresh = missing.select("cluster", "seed").with_columns(new_profile_ids(missing.get_column("seed")))
    taken = pl.concat([assigned.get_column("profile_id"), pl.Series(sorted(reserved), dtype=pl.String)])
    attempt = 0
    while True:  # practically never loops: a hash collision with an id in use is re-hashed with a counter
        clash = fresh.get_column("profile_id").is_in(taken.implode()) | fresh.get_column("profile_id").is_duplicated()
        if not clash.any():
            break
        attempt += 1
        again = new_profile_ids(fresh.filter(clash).get_column("seed"), attempt)
        fresh = pl.concat([fresh.filter(~clash), fresh.filter(clash).with_columns(again)])
    clusters = pl.concat([assigned, fresh.select("cluster", "profile_id")])

    merged = int(cand.group_by("cluster").agg(pl.len().alias("k")).filter(pl.col("k") > 1).height)
    split = int(cand.group_by("pcode").agg(pl.len().alias("k")).filter(pl.col("k") > 1).height)
    kept = won.get_column("pcode").to_numpy()
    gone = np.ones(names.len(), dtype=bool)
    gone[kept] = False
    return IdAssignment(
        clusters=clusters,
        created=fresh.height,
        merged=merged,
        split=split,
        kept=len(kept),
        retired=names.filter(pl.Series(gone)).to_list(),
    )
