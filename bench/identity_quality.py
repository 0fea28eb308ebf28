"""Identity quality on the demo generator's ground truth: pairwise precision / recall / F1 over records.

    python bench/identity_quality.py [--customers 5000] [--seed 7] [--out /tmp/cx-identity-demo]
    python bench/identity_quality.py --customers 200000 --speed     # + identity-step timings at ~1M records

Generates the demo exports (etl.demo.generate, fixed seed), reads them with their mapping TOMLs (a small reader
kept here: canonical columns, record_id, occurred_at; rows without a record id or with an unparseable time are
left out, as the ETL quarantines them), normalises (etl.normalise), resolves (etl.identity.resolve) and compares
with ground_truth.csv. Pairs are counted from the (cluster, person) contingency table, never enumerated.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import tomllib
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cx.schema import FUZZY_ATTRIBUTES, STRONG_IDENTIFIERS
from etl.identity import resolve
from etl.identity_config import IdentityConfig
from etl.normalise import normalise_identifiers

IDENTITY_FIELDS = ("record_id", "occurred_at", *STRONG_IDENTIFIERS, *FUZZY_ATTRIBUTES)


def _read_one(mapping_path: Path) -> pl.DataFrame:
    """One demo export -> canonical identity columns (source, record_id, interaction_id, channel, ...)."""
    spec = tomllib.loads(mapping_path.read_text(encoding="utf-8"))
    files = sorted(f for pattern in spec["files"] for f in mapping_path.parent.glob(pattern))
    fmt = spec.get("format", files[0].suffix.lstrip("."))
    if fmt == "csv":
        frame = pl.concat([pl.read_csv(f, infer_schema=False) for f in files])
    elif fmt == "ndjson":
        frame = pl.concat([pl.read_ndjson(f) for f in files])
        nested = [c for c, t in frame.schema.items() if isinstance(t, pl.Struct)]
        for c in nested:
            frame = frame.with_columns(
                pl.col(c).struct.rename_fields([f"{c}.{f.name}" for f in frame.schema[c].fields])  # type: ignore[union-attr]
            ).unnest(c)
    elif fmt == "parquet":
        frame = pl.concat([pl.read_parquet(f) for f in files])
    else:
        raise ValueError(f"format {fmt!r} not handled by this small reader")
    columns = {src: dst for src, dst in spec["columns"].items() if dst in IDENTITY_FIELDS and src in frame.columns}
    frame = frame.select([pl.col(src).alias(dst) for src, dst in columns.items()])
    frame = frame.with_columns([pl.lit(None).alias(c) for c in IDENTITY_FIELDS if c not in frame.columns])
    formats = spec.get("formats", {})
    tz = spec.get("timezone", "Asia/Shanghai")
    ts = pl.col("occurred_at")
    if frame.schema["occurred_at"] == pl.String or frame.schema["occurred_at"] == pl.Null:
        tries = []
        for f in formats.get("occurred_at", []):
            if f == "epoch_ms":
                tries.append(pl.from_epoch(ts.cast(pl.Int64, strict=False), time_unit="ms").dt.replace_time_zone("UTC"))
            elif "%z" in f:
                tries.append(ts.str.to_datetime(f, strict=False).dt.convert_time_zone("UTC"))
            elif f.endswith("Z"):
                tries.append(ts.str.to_datetime(f, strict=False).dt.replace_time_zone("UTC"))
            else:
                tries.append(ts.str.to_datetime(f, strict=False).dt.replace_time_zone(tz).dt.convert_time_zone("UTC"))
        ts = pl.coalesce([t.cast(pl.Datetime("us", "UTC")) for t in tries]) if tries else pl.lit(None)
    bd = pl.col("birth_date").cast(pl.String)
    bd_tries = [bd.str.to_date(f, strict=False) for f in formats.get("birth_date", ["%Y-%m-%d"])]
    frame = frame.with_columns(
        ts.cast(pl.Datetime("us", "UTC")).alias("occurred_at"),
        pl.coalesce(bd_tries).alias("birth_date"),
        pl.col("record_id").cast(pl.String),
        *[pl.col(c).cast(pl.String) for c in (*STRONG_IDENTIFIERS, "name", "address", "postcode")],
        pl.lit(spec["source"]).alias("source"),
        pl.lit(spec.get("channel")).alias("channel"),
    )
    frame = frame.filter(pl.col("record_id").is_not_null() & pl.col("occurred_at").is_not_null())
    frame = frame.with_columns(
        pl.concat_str([pl.col("source"), pl.lit(":"), pl.col("record_id")]).alias("interaction_id")
    )
    return normalise_identifiers(frame.lazy(), region=spec.get("phone_region", "CN")).collect()


def read_demo(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All demo exports as canonical identity records, and the ground truth ``interaction_id, person_id``."""
    frames = [_read_one(p) for p in sorted((folder / "mappings").glob("*.toml"))]
    records = pl.concat(frames, how="diagonal_relaxed")
    truth = pl.read_csv(folder / "ground_truth.csv", infer_schema=False).select(
        pl.concat_str([pl.col("source"), pl.lit(":"), pl.col("record_id")]).alias("interaction_id"), "person_id"
    )
    return records, truth


def pairwise(predicted: pl.DataFrame, truth: pl.DataFrame, cluster: str = "profile_id") -> dict[str, float]:
    """Pairwise precision, recall, F1 over records present in both frames (contingency counts, no pair lists)."""
    both = predicted.select("interaction_id", pl.col(cluster).alias("c")).join(truth, on="interaction_id")

    def pairs(col: pl.Expr) -> pl.Expr:
        return (col * (col - 1) // 2).sum()

    tp = both.group_by("c", "person_id").agg(pl.len().cast(pl.Int64).alias("n")).select(pairs(pl.col("n"))).item()
    pred = both.group_by("c").agg(pl.len().cast(pl.Int64).alias("n")).select(pairs(pl.col("n"))).item()
    true = both.group_by("person_id").agg(pl.len().cast(pl.Int64).alias("n")).select(pairs(pl.col("n"))).item()
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "records": both.height}


def reachable(records: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """``interaction_id, person_id``: each person's records split into the groups the data can link at all —
    records of one person connected through shared normalised identifier values (any strong identifier, no
    guards). Pairs across these groups share no identifier (a web cookie never seen with a login, a WeChat id
    never typed with a phone): no resolver can join them without other evidence. Scoring a resolution against
    this instead of ``truth`` gives the recall over *linkable* pairs."""
    from etl.identity_graph import components

    frame = records.select("interaction_id", *STRONG_IDENTIFIERS).join(truth, on="interaction_id")
    frame = frame.with_row_index("rec").with_columns(pl.col("rec").cast(pl.Int64))
    long = frame.unpivot(index=["rec", "person_id"], on=list(STRONG_IDENTIFIERS), variable_name="t", value_name="v")
    long = long.filter(pl.col("v").is_not_null()).with_columns(
        pl.struct("person_id", "t", "v").rank("dense").cast(pl.Int64).alias("vid")
    )
    labels = components(frame.height, long.get_column("rec").to_numpy(), long.get_column("vid").to_numpy())
    return frame.select(
        "interaction_id",
        pl.concat_str([pl.col("person_id"), pl.lit("#"), pl.Series(labels).cast(pl.String)]).alias("person_id"),
    )


def speed(records: pl.DataFrame, increment: int) -> None:
    """Identity step alone: a full run, a re-run with the previous assignment, and an incremental batch of the
    newest ``increment`` records on top of the rest (in-memory store lookups: etl.identity.FrameIdentityStore)."""
    import os
    import resource

    from etl.identity import FrameIdentityStore, resolve_incremental

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        print(
            f"{label}: wall {time.perf_counter() - wall:.2f} s, CPU {time.process_time() - cpu:.2f} s"
            f" (load average {os.getloadavg()[0]:.1f})"
        )
        return out

    config = IdentityConfig()
    ordered = records.sort("occurred_at", "interaction_id")
    old, new = ordered.head(ordered.height - increment), ordered.tail(increment)
    first = timed(
        f"full run, {records.height:,} records", lambda: resolve(records.lazy(), previous=None, config=config)
    )
    print(f"  steps (wall s): { ({k: v for k, v in first.stats.timings.items() if not k.endswith('_cpu')}) }")
    timed("re-run with previous ids", lambda: resolve(records.lazy(), previous=first.assignments, config=config))
    base = resolve(old.lazy(), previous=None, config=config)
    store = FrameIdentityStore(old, base.assignments, config)
    inc = timed(
        f"incremental, {new.height:,} new on {old.height:,}",
        lambda: resolve_incremental(new.lazy(), store=store, config=config),
    )
    print(f"  re-resolved {inc.stats.records:,} records of {len(inc.profiles_replaced):,} profiles")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("/tmp/cx-identity-demo"))
    parser.add_argument("--speed", action="store_true", help="also time full / re-run / incremental identity runs")
    parser.add_argument("--increment", type=int, default=10_000, help="records in the incremental batch (--speed)")
    args = parser.parse_args(argv)
    from etl import demo, demo_texts
    from etl.demo import generate

    # the generator's own source is part of the cache key: data made by an older generator is never reused
    generator = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (demo, demo_texts))).hexdigest()[:10]
    folder = args.out / f"{args.customers}-{args.seed}-{generator}"
    if not (folder / "ground_truth.csv").exists():
        generate(args.customers, args.seed, folder)
    t0 = time.perf_counter()
    records, truth = read_demo(folder)
    t1 = time.perf_counter()
    result = resolve(records.lazy(), previous=None, overrides=[], config=IdentityConfig())
    t2 = time.perf_counter()
    scores = pairwise(result.assignments, truth)
    print(
        f"demo: {args.customers:,} customers, seed {args.seed}: {records.height:,} records read + normalised in {t1 - t0:.2f} s"
    )
    print(
        f"resolve: {t2 - t1:.2f} s -> {result.stats.profiles:,} profiles (true persons: {truth.get_column('person_id').n_unique():,})"
    )
    print(
        f"pairwise precision {scores['precision']:.4f}  recall {scores['recall']:.4f}  F1 {scores['f1']:.4f}"
        f"  over {scores['records']:,} records"
    )
    linkable = pairwise(result.assignments, reachable(records, truth))
    ceiling = pairwise(reachable(records, truth).rename({"person_id": "profile_id"}), truth)
    print(
        f"recall over linkable pairs (people's records connected by shared identifiers): {linkable['recall']:.4f}"
        f"  (the data's own ceiling on plain recall: {ceiling['recall']:.4f})"
    )
    print(f"identity step timings (s): {result.stats.timings}")
    if args.speed:
        speed(records, args.increment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
